"""``reportgen train``: train a classifier on PCam-format data and write a checkpoint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reportgen.cache import default_cache_dir
from reportgen.data.pcam import ensure_demo_data, open_pcam
from reportgen.runtime import resolve_device, seed_everything


def train_command(args, *, progress: bool = True) -> Path:
    """Train with the demo recipe, overridden by the command's flags; return the checkpoint path."""
    from reportgen.model.settings import DEMO_TRAIN_SETTINGS
    from reportgen.model.train import train_model

    overrides = {"recipe": args.recipe, "weights": args.weights, "seed": args.seed, "precision": args.precision,
                 "eval_limit": args.eval_limit}
    for name in ("epochs", "train_fraction"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    settings = dataclasses.replace(DEMO_TRAIN_SETTINGS, **overrides)
    device = resolve_device(args.device)
    seed_everything(args.seed)
    cache_root = default_cache_dir()
    data_dir = args.data_dir or ensure_demo_data(cache_root)
    out = Path(args.out)
    with open_pcam(data_dir, splits=("train", "valid"), cache_dir=cache_root / "pcam-unzipped") as data:
        train_model(data, settings, device=device, progress=progress,
                    resume=Path(args.resume) if args.resume else None, checkpoint_path=out)
    return out
