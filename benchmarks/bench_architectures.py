"""Audit three architectures the way the demo audits its ResNet-18: train each with the demo recipe on the
synthetic set, build its report, and print what each costs and what its report says.

For each architecture: validation accuracy, seconds per explained patch per method, the sanity cascade's
stages and each method's outcome (a map that ignores the weights must fail it), and the largest difference
between the report's per-patch deletion AUCs and a recomputation by the plain one-image, one-step loop
(:func:`reportgen.metrics.faithfulness.curves_one_at_a_time`) on the maps stored in ``attributions.h5``.

    python benchmarks/bench_architectures.py                    # resnet18, mobilenet_v3_small, timm:test_vit
    python benchmarks/bench_architectures.py --images 10 --arch timm:test_vit@160

``--arch NAME[@SIDE]`` (repeatable) names an architecture and the side its network takes (``--input-size``).
Training arithmetic differs between CPUs, so the accuracies and AUCs are this machine's; the AUC agreement and
the sanity outcomes are what the benchmark checks.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from reportgen.metrics.faithfulness import curve_auc, curves_one_at_a_time
from reportgen.model.checkpoint import load_checkpoint

#: A ResNet-18 (the demo), a small torchvision CNN and a small timm ViT (16 px patches, 10 x 10 tokens at 160 px).
DEFAULT_ARCHS = ("resnet18", "mobilenet_v3_small", "timm:test_vit@160")


def build(arch: str, side: int | None, *, images: int, out: Path, cache: Path, extra: list[str]) -> float:
    """Train (cached) and audit ``arch``; the seconds the build took."""
    command = [sys.executable, "-m", "reportgen", "build", "--arch", arch, "--images", str(images), "--out",
               str(out), "--cache-dir", str(cache), "--no-pdf", "-q", *extra]
    if side is not None:
        command += ["--input-size", str(side)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def plain_loop_difference(out: Path, document: dict) -> float:
    """Largest |report - plain loop| over every method's per-patch deletion AUC."""
    settings, config = document["settings"], document["provenance"]["config"]
    model = load_checkpoint(document["model"]["checkpoint"]["path"]).model
    with h5py.File(out / "attributions.h5", "r") as stored:
        images = torch.from_numpy(stored["images"][:]).permute(0, 3, 1, 2).float().div(255.0)
        targets = torch.from_numpy(stored["targets"][:])
        maps = {name: stored[f"maps/{name}"][:] for name in document["methods"]}
    largest = 0.0
    for name, values in maps.items():
        curves = curves_one_at_a_time(model, images, values, targets, mode="deletion",
                                      substrate=settings["substrates"]["deletion"], steps=settings["steps"],
                                      seed=settings["seed"], dataset_mean=tuple(settings["dataset_mean"]),
                                      precision=config["precision"])
        reported = np.array([image["per_method"][name]["deletion_auc"] for image in document["images"]], dtype=float)
        largest = max(largest, float(np.nanmax(np.abs(curve_auc(curves) - reported))))
    return largest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", action="append", metavar="NAME[@SIDE]",
                        help=f"architecture to audit (repeatable; default {', '.join(DEFAULT_ARCHS)})")
    parser.add_argument("--images", type=int, default=30, help="patches explained per report (default 30)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="cache shared by the builds (default: a temporary folder, so every model trains)")
    parser.add_argument("build_options", nargs="*", help="further `reportgen build` options, after --")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        cache = args.cache_dir or root / "cache"
        for spec in args.arch or DEFAULT_ARCHS:
            arch, _, side = spec.partition("@")
            out = root / arch.replace(":", "-")
            seconds = build(arch, int(side) if side else None, images=args.images, out=out, cache=cache,
                            extra=args.build_options)
            document = json.loads((out / "report.json").read_text(encoding="utf-8"))
            n = len(document["images"])
            sanity = document["sanity"] or {}
            grad_cam = document["methods"].get("grad_cam", {}).get("settings", {})
            print(f"\n{spec}: build {seconds:.0f} s, validation accuracy {document['model']['val_accuracy']:.3f}")
            print("  seconds per patch: " + ", ".join(f"{name} {record['seconds'] / n:.2f}"
                                                      for name, record in document["methods"].items()))
            if grad_cam:
                print(f"  Grad-CAM at {grad_cam['target_layer']}, feature map {grad_cam['feature_map_size']}")
            if sanity:
                print(f"  sanity stages ({len(sanity['stages'])}): {', '.join(sanity['stages'])}")
                print("  sanity outcomes: " + ", ".join(f"{name} {record['outcome']}" for name, record in
                                                        {**sanity["methods"], **sanity["controls"]}.items()))
            print(f"  largest |deletion AUC - plain loop| over {n} patches: {plain_loop_difference(out, document):.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
