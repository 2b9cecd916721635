"""Draw a grid of synthetic patches (positives, negatives, hard negatives) with their masks.

Run ``python -m reportgen.data.preview examples/synthetic_patches.png`` to
redraw the picture shown in the documentation.
"""

from __future__ import annotations

import argparse
import io
import logging
import tempfile
from pathlib import Path

import numpy as np

from reportgen.data.files import CENTRE_START, CENTRE_STOP
from reportgen.data.reader import open_pcam
from reportgen.data.synth import write_synthetic_pcam

logger = logging.getLogger(__name__)

GROUPS = ("positive", "negative", "hard negative")


def _pick(labels: np.ndarray, has_tumour: np.ndarray, per_group: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    members = {
        "positive": np.flatnonzero(labels == 1),
        "negative": np.flatnonzero((labels == 0) & ~has_tumour),
        "hard negative": np.flatnonzero((labels == 0) & has_tumour),
    }
    return {
        group: np.sort(rng.choice(found, size=min(per_group, len(found)), replace=False))
        for group, found in members.items()
    }


def draw_preview(data_dir: str | Path, out_path: str | Path, *, split: str = "valid", per_group: int = 6, seed: int = 0) -> Path:
    """Save a PNG grid: one row per group, mask outlined in yellow, centre 32x32 dashed.

    Parameters
    ----------
    data_dir : a synthetic PCam directory (it must carry ``mask``).
    out_path : PNG file to write.
    split : split to draw from (default "valid").
    per_group : patches per row (default 6).
    seed : which patches are drawn (default 0).

    Returns
    -------
    ``out_path`` as a Path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    with open_pcam(data_dir, splits=(split,)) as dataset:
        data = dataset.split(split)
        all_masks = data.read(slice(0, len(data))).masks
        chosen = _pick(data.labels, all_masks.any(axis=(1, 2)), per_group, seed)
        figure, axes = plt.subplots(len(GROUPS), per_group, figsize=(1.6 * per_group, 1.8 * len(GROUPS)))
        axes = np.atleast_2d(axes)
        for row, group in enumerate(GROUPS):
            batch = data.read(chosen[group])
            for column in range(per_group):
                axis = axes[row, column]
                axis.set_axis_off()
                if column >= len(batch.indices):
                    continue
                axis.imshow(batch.images[column], interpolation="nearest")
                if batch.masks[column].any():
                    axis.contour(batch.masks[column], levels=[0.5], colors="yellow", linewidths=0.8)
                side = CENTRE_STOP - CENTRE_START
                axis.add_patch(
                    Rectangle((CENTRE_START - 0.5, CENTRE_START - 0.5), side, side, fill=False, ls="--", lw=0.7, ec="white")
                )
                axis.set_title(f"{group}\n#{batch.indices[column]} label {batch.labels[column]}", fontsize=7)
    figure.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    plt.close(figure)
    # A 256-colour palette keeps the committed picture small (< 300 KB).
    from PIL import Image

    buffer.seek(0)
    Image.open(buffer).convert("RGB").quantize(colors=256).save(out_path, optimize=True)
    logger.info("wrote %s", out_path)
    return out_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        write_synthetic_pcam(scratch, seed=args.seed, n_train=1, n_valid=256, n_test=1)
        draw_preview(scratch, args.out, seed=args.seed)


if __name__ == "__main__":
    main()
