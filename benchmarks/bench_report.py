"""Benchmark a report build: stage timings, pass counts, compute bound, notebook-style reference, memory.

For N patches of the demo data (or ``--data-dir``) and a fixed checkpoint, in one run:

1. the model's peak batched throughput, forward only and forward+backward, at the chosen precision;
2. a full ``reportgen build`` with the cache off, timing every stage and counting forward and
   backward passes (explanations and curves);
3. the compute bound of explain + curves (passes divided by peak throughput) and actual/bound;
4. LIME before and after predicting each distinct perturbation once, on the same patches: the
   build's LIME against LIME predicting all ``num_samples`` perturbations (in batches of the
   build's batch size); time, forward passes and the largest map difference;
5. a notebook-style reference on the same patches with the same settings: per-image loops,
   LIME predicting all its samples in batches of 10, every deletion/insertion step its own
   batch-1 forward pass; its time, the speed-up, and the largest AUC difference from the build;
6. peak resident memory of this process.

    python benchmarks/bench_report.py --images 30
    python benchmarks/bench_report.py --images 30 --precision bf16 --skip-reference
    python benchmarks/bench_report.py --images 2 --steps 10 --lime-samples 50   # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from reportgen.config import resolve_config
from reportgen.inference import predict_proba
from reportgen.metrics.faithfulness import curve_auc, curves_one_at_a_time
from reportgen.model.checkpoint import load_checkpoint
from reportgen.pipeline import build_report
from reportgen.pipeline.explain import patch_explainer
from reportgen.pipeline.score import reference_maps
from reportgen.report.render import render_stored
from reportgen.runtime import resolve_device

#: LIME's prediction batch in the original notebook.
NOTEBOOK_LIME_BATCH = 10


@contextlib.contextmanager
def lime_predicting_every_sample():
    """LIME as it was before it predicted each distinct perturbation once: all ``num_samples`` predicted.

    The on/off matrix comes from the same draws, so the maps must equal the
    build's (up to the float arithmetic of other batch compositions).
    """
    from reportgen.explain import lime as lime_module

    distinct_class = lime_module._batched_explainer_class()

    class EverySample(distinct_class):
        def data_labels(self, image, fudged_image, segments, classifier_fn, num_samples, batch_size=10):
            n_features = np.unique(segments).shape[0]
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape((num_samples, n_features))
            data[0, :] = 1
            image, fudged_image = image.astype(np.float32), fudged_image.astype(np.float32)
            labels = [classifier_fn(np.where(data[start : start + batch_size][:, segments].astype(bool)[..., None],
                                             image, fudged_image))
                      for start in range(0, num_samples, batch_size)]
            self.distinct_perturbations = num_samples
            return data, np.concatenate(labels)

    original = lime_module._batched_explainer_class
    lime_module._batched_explainer_class = lambda: EverySample
    try:
        yield
    finally:
        lime_module._batched_explainer_class = original


def lime_before_and_after(model, raw, document, run) -> dict:
    """The build's LIME (distinct perturbations) against LIME predicting every sample, on the same patches."""
    if "lime" not in document["methods"]:
        return {}
    images = torch.from_numpy(raw["images"]).permute(0, 3, 1, 2).float().div(255.0)
    targets, patches = torch.from_numpy(raw["targets"]), raw["patch_indices"]

    def explain_all():
        started, maps, forwards = time.perf_counter(), [], 0
        for i in range(len(images)):
            explanation = patch_explainer("lime", model, int(patches[i]), run).explain(images[i : i + 1],
                                                                                     targets[i : i + 1])
            maps.append(explanation.maps)
            forwards += explanation.forward_passes
        return np.concatenate(maps), forwards, time.perf_counter() - started

    after_maps, after_forwards, after_seconds = explain_all()
    with lime_predicting_every_sample():
        before_maps, before_forwards, before_seconds = explain_all()
    return {"before_seconds": before_seconds, "before_forwards": before_forwards, "after_seconds": after_seconds,
            "after_forwards": after_forwards, "largest_map_difference": float(np.max(np.abs(after_maps - before_maps)))}


def cpu_has_native_bf16() -> bool:
    """Whether the CPU has bf16 instructions (AVX-512 BF16 or AMX); elsewhere bf16 is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def peak_throughput(model, *, precision: str, batch_size: int, seconds: float = 8.0) -> tuple[float, float]:
    """(forward images/s at ``batch_size``, forward+backward images/s at batch 50, fp32 gradients)."""
    device = next(model.parameters()).device
    images = torch.rand(batch_size, 3, 96, 96, device=device)
    predict_proba(model, images, batch_size=batch_size, precision=precision)  # warm-up
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        predict_proba(model, images, batch_size=batch_size, precision=precision)
        count += batch_size
    forward = count / (time.perf_counter() - started)

    grad_images = torch.rand(50, 3, 96, 96, device=device, requires_grad=True)
    model(grad_images)[:, 1].sum().backward()  # warm-up
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        model(grad_images)[:, 1].sum().backward()
        count += 50
    model.zero_grad(set_to_none=True)
    return forward, count / (time.perf_counter() - started)


def notebook_reference(model, raw, document, run) -> tuple[dict[str, dict[str, np.ndarray]], float]:
    """Recompute every map and curve the way the notebook did: one image, one step at a time.

    Returns per-method and per-reference ``{"deletion": (N,), "insertion": (N,)}`` AUCs and the seconds spent.
    """
    config = document["provenance"]["config"]
    settings = document["settings"]
    images = torch.from_numpy(raw["images"]).permute(0, 3, 1, 2).float().div(255.0)
    targets = torch.from_numpy(raw["targets"])
    patches = raw["patch_indices"]
    started = time.perf_counter()
    maps: dict[str, np.ndarray] = {}
    for name in settings["methods"]:
        batch = NOTEBOOK_LIME_BATCH if name == "lime" else None
        with lime_predicting_every_sample():  # the notebook's lime predicted every sample
            maps[name] = np.concatenate([
                patch_explainer(name, model, int(patches[i]), run, batch_size=batch).explain(
                    images[i : i + 1], targets[i : i + 1]).maps
                for i in range(len(images))
            ])
    maps.update(reference_maps(images, patches, seed=config["seed"]))
    aucs = {}
    for name, values in maps.items():
        aucs[name] = {
            mode: curve_auc(curves_one_at_a_time(
                model, images, values, targets, mode=mode, substrate=settings["substrates"][mode],
                steps=settings["steps"], seed=settings["seed"], dataset_mean=tuple(settings["dataset_mean"]),
                precision=config["precision"]))
            for mode in ("deletion", "insertion")
        }
    return aucs, time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--ig-steps", type=int, default=50)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--compare-precision", default=None, choices=("fp32", "bf16"),
                        help="also build at this precision and print every AUC's change")
    parser.add_argument("--checkpoint", default=None, help="default: the cached demo model (trained if absent)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF (where WeasyPrint's system libraries are absent)")
    parser.add_argument("--out", default=None, help="keep the report here (default: a temporary directory)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="reportgen-bench-"))
    configs = {}

    def build(precision: str, out: Path) -> dict:
        flags = {"images": args.images, "steps": args.steps, "precision": precision, "out": str(out),
                 "no_cache": True, "compare_substrates": False, "pdf": not args.no_pdf}
        if args.checkpoint:
            flags["checkpoint"] = args.checkpoint
        if args.data_dir:
            flags["data_dir"] = args.data_dir
        config = resolve_config(flag_values=flags, settings=[f"lime.num_samples={args.lime_samples}",
                                                             f"integrated_gradients.n_steps={args.ig_steps}"])
        configs[precision] = config
        started = time.perf_counter()
        outcome = build_report(config, render=render_stored, command_line="bench_report.py", progress=False)
        outcome.document["provenance"]["timings"]["total"] = time.perf_counter() - started
        return outcome.document

    out = Path(args.out) if args.out else workdir / "report"
    document = build(args.precision, out)
    build_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    timings = document["provenance"]["timings"]
    device = resolve_device(document["provenance"]["config"]["device"])
    model = load_checkpoint(document["model"]["checkpoint"]["path"]).model
    model = model.to(device, memory_format=torch.channels_last).eval()
    forward_rate, backward_rate = peak_throughput(model, precision=args.precision,
                                                  batch_size=document["settings"]["batch_size"])

    methods = document["methods"]
    forward = sum(m["forward_passes"] for m in methods.values())
    backward = sum(m["backward_passes"] for m in methods.values())
    curve_forward = document["provenance"]["forward_passes"]["curves"]
    explain_seconds = sum(m["seconds"] for m in methods.values())
    curve_seconds = timings.get("curves", 0.0)
    actual = explain_seconds + curve_seconds
    bound = (forward - backward + curve_forward) / forward_rate + backward / backward_rate

    print(f"device: {document['provenance']['machine']}")
    print(f"patches: {args.images}  precision: {args.precision}  native bf16 on this CPU: {cpu_has_native_bf16()}")
    print(f"peak throughput: forward {forward_rate:.0f} images/s (batch {document['settings']['batch_size']}), "
          f"forward+backward {backward_rate:.0f} images/s (batch 50)")
    print("stage timings (s):")
    for name, result in methods.items():
        print(f"  explain {name:22} {result['seconds']:8.1f}  forward {result['forward_passes']:7d}  "
              f"backward {result['backward_passes']:6d}")
    for stage in ("checkpoint", "data", "training", "evaluation", "selection", "references", "curves", "agreement",
                  "localisation", "sanity", "render", "total"):
        if stage in timings:
            print(f"  {stage:30} {timings[stage]:8.1f}")
    print(f"curve forward passes: {curve_forward}")
    print(f"explain + curves: actual {actual:.1f} s, compute bound {bound:.1f} s, actual/bound {actual / bound:.2f}")
    html, pdf = out / "report.html", out / "report.pdf"
    sizes = [f"{path.name} {path.stat().st_size / 1e6:.2f} MB" for path in (html, pdf) if path.exists()]
    print(", ".join(sizes))

    with h5py.File(out / "attributions.h5", "r") as stored:
        raw = {name: stored[name][:] for name in ("images", "targets", "patch_indices")}
    lime = lime_before_and_after(model, raw, document, configs[args.precision])
    if lime:
        print(f"LIME, the same {args.images} patches: every sample predicted {lime['before_seconds']:.1f} s, "
              f"{lime['before_forwards']} forwards; each distinct perturbation once {lime['after_seconds']:.1f} s, "
              f"{lime['after_forwards']} forwards ({lime['after_forwards'] / lime['before_forwards']:.0%}); "
              f"largest map difference {lime['largest_map_difference']:.2e}")

    if not args.skip_reference:
        reference, seconds = notebook_reference(model, raw, document, configs[args.precision])
        difference = 0.0
        for name, modes in reference.items():
            section = methods.get(name) or document["baselines"][name]
            for mode, values in modes.items():
                ours = np.array(section[f"{mode}_auc"]["per_image"], dtype=np.float64)
                difference = max(difference, float(np.max(np.abs(ours - values))))
        print(f"notebook-style reference: explain + curves {seconds:.1f} s; speed-up {seconds / actual:.1f}x; "
              f"largest AUC difference {difference:.2e}")

    if args.compare_precision:
        other = build(args.compare_precision, workdir / f"report-{args.compare_precision}")
        worst = 0.0
        for group in ("methods", "baselines"):
            for name, section in document[group].items():
                for metric in ("deletion_auc", "insertion_auc"):
                    a = np.array(section[metric]["per_image"], dtype=np.float64)
                    b = np.array(other[group][name][metric]["per_image"], dtype=np.float64)
                    worst = max(worst, float(np.max(np.abs(a - b))))
        other_actual = sum(m["seconds"] for m in other["methods"].values()) + other["provenance"]["timings"]["curves"]
        print(f"{args.compare_precision}: explain + curves {other_actual:.1f} s; whole build with the cached "
              f"checkpoint {other['provenance']['timings']['total']:.1f} s; "
              f"largest AUC change against {args.precision}: {worst:.4f}")

    print(f"peak resident memory of the build: {build_peak:.2f} GiB")
    print(json.dumps({"actual_s": actual, "bound_s": bound, "peak_rss_gib": build_peak}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
