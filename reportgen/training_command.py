"""``reportgen train``: train a classifier on PCam-format data and write a checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path

from reportgen.cache import default_cache_dir
from reportgen.data.pcam import ensure_demo_data, open_pcam
from reportgen.runtime import resolve_device, seed_everything

logger = logging.getLogger(__name__)


def train_command(args, *, progress: bool = True) -> Path:
    """Train with the recipe's demo settings, overridden by the command's flags; return the checkpoint path.

    The head recipe's backbone features are cached under the cache directory,
    so training another head on the same backbone and patches skips the
    forward pass.
    """
    from reportgen.model.settings import demo_train_settings
    from reportgen.model.train import train_model

    settings = demo_train_settings(
        args.recipe, weights=args.weights, seed=args.seed, precision=args.precision,
        eval_limit=args.eval_limit, epochs=args.epochs, train_fraction=args.train_fraction,
    )
    device = resolve_device(args.device)
    seed_everything(args.seed)
    cache_root = default_cache_dir()
    data_dir = args.data_dir or ensure_demo_data(cache_root)
    out = Path(args.out)
    with open_pcam(data_dir, splits=("train", "valid"), cache_dir=cache_root / "pcam-unzipped") as data:
        _, info = train_model(data, settings, device=device, progress=progress,
                              resume=Path(args.resume) if args.resume else None, checkpoint_path=out,
                              cache_dir=cache_root)
    evaluation = info["evaluation"] or {}
    cached = info.get("feature_cache_hit")
    logger.info(
        "%s recipe: validation accuracy %s (best of %d epochs, %d validation patches) after training on "
        "%d patches (train fraction %g) in %.1f s%s",
        settings.recipe, "n/a" if evaluation.get("accuracy") is None else f"{evaluation['accuracy']:.4f}",
        info["epochs_run"], evaluation.get("n") or 0, info["train_size"], settings.train_fraction, info["seconds"],
        "" if cached is None else f"; backbone features {'cached' if all(cached.values()) else 'computed'}",
    )
    return out
