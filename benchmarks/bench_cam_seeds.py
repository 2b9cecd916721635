"""Does Grad-CAM follow the tumour on the demo model? Measured per training seed and target layer.

For each ``--seeds`` value this trains the demo model (the full recipe's demo
settings with that seed; cached under ``--cache-dir``, so a second run only
scores), explains the true positives among the first ``--patches`` validation
patches with Grad-CAM at each ``--layers`` layer, and prints per seed and layer:

- ``hit``: share of patches whose strongest CAM cell is the cell holding the
  most tumour pixels (the ground-truth masks of the synthetic set);
- ``mass``: share of the map's positive mass on tumour pixels, next to the
  tumour's share of the patch (what a uniform map would score);
- ``deletion``: mean deletion AUC (docs/metrics.md#deletion-and-insertion-curves defaults, ``--steps`` steps) of
  the map and of the seeded random reference map on the same patches.

At 96 px the last block's map is 3x3 and every cell sees the whole patch, so
whether its cells track the evidence is a property of the trained weights::

    python benchmarks/bench_cam_seeds.py --seeds 0 1 2
    python benchmarks/bench_cam_seeds.py --seeds 0 --patches 64 --steps 5 --smoke   # seconds
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np
import torch

from reportgen.data import as_float_tensor, ensure_demo_data, open_pcam
from reportgen.explain import get_explainer
from reportgen.metrics.faithfulness import curve_auc, deletion_insertion_curves
from reportgen.metrics.localisation import mass_in_mask
from reportgen.metrics.references import REFERENCE_MAPS
from reportgen.model.settings import demo_train_settings
from reportgen.model.train import train_or_load

CAM_LAYERS = ("backbone.layer4.1", "backbone.layer3.1")


def cell_hit_rate(cells: np.ndarray, masks: np.ndarray) -> float:
    """Share of patches whose largest CAM cell holds the most mask pixels.

    cells : (N, k, k) CAM at the layer's resolution; masks : (N, H, W) bool, H and W multiples of k.
    """
    n, k = cells.shape[0], cells.shape[-1]
    size = masks.shape[-1] // k
    mask_cells = masks.reshape(n, k, size, k, size).mean(axis=(2, 4))
    return float(np.mean(cells.reshape(n, -1).argmax(1) == mask_cells.reshape(n, -1).argmax(1)))


def mean_deletion(model, images, maps, targets, *, mean_colour, steps: int) -> float:
    curves = deletion_insertion_curves(model, images, maps, targets, mode="deletion", substrate="mean",
                                       dataset_mean=mean_colour, steps=steps, seed=0)
    return float(curve_auc(curves).mean())


def score_seed(data, seed: int, args, cache_dir: Path) -> list[str]:
    overrides = {"seed": seed}
    if args.smoke:
        overrides.update(train_fraction=0.02)
    model = train_or_load(data, demo_train_settings("full", **overrides), cache_dir=cache_dir, progress=False).model
    model.eval()
    batch = data.split("valid").read(np.arange(min(args.patches, len(data.split("valid")))))
    images = as_float_tensor(batch.images)
    with torch.no_grad():
        predictions = model(images).argmax(1).numpy()
    positives = np.flatnonzero((predictions == 1) & (batch.labels == 1))[: args.max_positives]
    if len(positives) == 0:
        return [f"{seed:>4}  no true positives among the first {args.patches} validation patches"]
    images, masks = images[positives], batch.masks[positives].astype(bool)
    targets = torch.ones(len(positives), dtype=torch.long)
    mean_colour = tuple(float(v) for v in batch.images.reshape(-1, 3).mean(axis=0) / 255.0)
    random_maps = np.concatenate([REFERENCE_MAPS["random"](images[i : i + 1], seed=1000 + i)
                                  for i in range(len(positives))])
    random_deletion = mean_deletion(model, images, random_maps, targets, mean_colour=mean_colour, steps=args.steps)
    rows = []
    for layer in args.layers:
        explanation = get_explainer("grad_cam").create(model, seed=seed, target_layer=layer).explain(images, targets)
        cells = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(explanation.maps)[:, None],
                                                        _cam_size(explanation))[:, 0].numpy()
        deletion = mean_deletion(model, images, explanation.maps, targets, mean_colour=mean_colour, steps=args.steps)
        rows.append(f"{seed:>4}  {layer:<18} {_cam_size(explanation)[0]}x{_cam_size(explanation)[1]}  "
                    f"{len(positives):>4}  {cell_hit_rate(cells, masks):>5.2f}  "
                    f"{np.nanmean(mass_in_mask(explanation.maps, masks)):>6.3f} ({masks.mean():.3f})  "
                    f"{deletion:>8.3f}  {random_deletion:>8.3f}  {'yes' if deletion < random_deletion else 'no'}")
    return rows


def _cam_size(explanation) -> tuple[int, int]:
    height, width = explanation.settings["feature_map_size"].split("x")
    return int(height), int(width)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--layers", nargs="+", default=list(CAM_LAYERS))
    parser.add_argument("--patches", type=int, default=512, help="validation patches searched for true positives")
    parser.add_argument("--max-positives", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="deletion steps (default 20; the report uses 100)")
    parser.add_argument("--cache-dir", default=None, help="where the per-seed models are kept (default: a temp dir)")
    parser.add_argument("--smoke", action="store_true", help="train on 2 %% of the split: checks the script runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cache_dir = Path(args.cache_dir) if args.cache_dir else Path(tempfile.mkdtemp(prefix="reportgen-cam-seeds-"))
    data = open_pcam(ensure_demo_data(cache_dir), splits=("train", "valid"))
    print("seed  layer              map   TPs    hit  mass (tumour share)  deletion    random  beats random")
    for seed in args.seeds:
        for row in score_seed(data, seed, args, cache_dir):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
