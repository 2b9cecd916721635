"""A realistic report document (schema_version 1) and figure arrays, built deterministically.

Used by the gold-file test (3 patches), the size test and ``benchmarks/bench_render.py``
(30 patches).  Numbers are drawn from a seeded generator; nothing here needs torch.
"""

from __future__ import annotations

import copy

import numpy as np

from reportgen.report.figures import FigureInputs

METHODS = {
    "integrated_gradients": ("Integrated Gradients", "Sundararajan et al., ICML 2017"),
    "grad_cam": ("Grad-CAM", "Selvaraju et al., ICCV 2017"),
    "lime": ("LIME", "Ribeiro et al., KDD 2016"),
}
BASELINES = {
    "random": ("Random map", "seeded uniform noise"),
    "centre_prior": ("Centre prior", "Gaussian on the centre 32x32 region"),
    "sobel": ("Sobel edges", "Sobel, 1968"),
}
STEPS = 20
SIZE = 96


def _auc(rng: np.random.Generator, centre: float, n: int) -> dict:
    per_image = np.clip(rng.normal(centre, 0.05, n), 0.0, 1.0).round(4)
    mean = float(per_image.mean().round(4))
    return {"mean": mean, "ci95": [round(mean - 0.03, 4), round(mean + 0.03, 4)], "per_image": per_image.tolist()}


def _curve(start: float, end: float) -> list[float]:
    return np.linspace(start, end, STEPS + 1).round(4).tolist()


def _scored(rng, title, reference, deletion, insertion, n, *, beats=True):
    return {
        "title": title, "reference": reference,
        "deletion_auc": _auc(rng, deletion, n), "insertion_auc": _auc(rng, insertion, n),
        "curves": {"deletion_mean": _curve(0.95, deletion / 2), "insertion_mean": _curve(0.2, insertion * 1.2)},
        "beats_random": {"deletion": beats, "insertion": beats},
        "seconds": 1.5, "forward_passes": 100 * n, "backward_passes": 0, "warnings": [],
    }


def make_document(n_images: int = 3, *, seed: int = 0) -> dict:
    """A complete report document with ``n_images`` explained patches and three methods."""
    rng = np.random.default_rng(seed)
    methods = {}
    for number, (name, (title, reference)) in enumerate(METHODS.items()):
        methods[name] = _scored(rng, title, reference, 0.2 + 0.08 * number, 0.7 - 0.05 * number, n_images,
                                beats=name != "lime")
        methods[name]["settings"] = {"steps": 50, "baseline": "black"} if name == "integrated_gradients" else (
            {"target_layer": "layer4[-1]", "feature_map": "3x3"} if name == "grad_cam" else
            {"segmenter": "quickshift", "kernel_size": 4, "max_dist": 200, "ratio": 0.2, "num_samples": 1000,
             "random_state": 0})
    methods["grad_cam"]["warnings"] = ["feature map is 3x3: the map has nine cells, upsampled to 96x96"]
    baselines = {name: _scored(rng, title, reference, 0.45, 0.45, n_images)
                 for name, (title, reference) in BASELINES.items()}
    for record in baselines.values():
        record.pop("beats_random")
    names = list(METHODS)
    strata = ["TP", "TN", "FP", "FN"]
    images = []
    for index in range(n_images):
        label = index % 2
        prediction = label if index % 4 < 2 else 1 - label
        images.append({
            "patch_id": f"valid:{1000 + index:05d}", "index": 1000 + index, "label": label,
            "prediction": prediction, "probability": round(0.6 + 0.01 * index, 4), "target": prediction,
            "stratum": strata[index % 4], "slide_id": None,
            "per_method": {name: {"deletion_auc": methods[name]["deletion_auc"]["per_image"][index],
                                  "insertion_auc": methods[name]["insertion_auc"]["per_image"][index],
                                  "centre_mass": round(0.3 - 0.05 * number, 4)}
                           for number, name in enumerate(names)},
            "note": ("Integrated Gradients and LIME agree on the centre; Grad-CAM: attribution concentrated on "
                     "the patch border." if index == 0 else "All three methods agree on the centre."),
        })
    document = {
        "schema_version": 1,
        "generated_at": "2026-11-26T12:00:00+00:00",
        "title": "PCam audit <fixture> & friends",
        "summary": {},
        "model": {
            "name": "resnet18-pcam", "architecture": "resnet18", "recipe": "full", "weights": "none",
            "checkpoint": {"path": "/models/resnet18_patchcamelyon_final.pth", "sha256": "ab" * 32,
                           "format": "notebook"},
            "preprocessing": {"mean": [0.7, 0.55, 0.7], "std": [0.15, 0.2, 0.15], "input_size": 96,
                              "resize_to": None, "assumed": True},
            "training": {"epochs": 2, "batch_size": 64, "learning_rate": 0.001,
                         "history": [{"epoch": 1, "loss": 0.51, "val_accuracy": 0.81, "seconds": 12.5,
                                      "images_per_second": 410.2},
                                     {"epoch": 2, "loss": 0.42, "val_accuracy": 0.86, "seconds": 12.1,
                                      "images_per_second": 423.9}],
                         "data_fingerprint": "synthetic-0001"},
            "val_accuracy": 0.86,
            "evaluation": {"accuracy": 0.86, "roc_auc": 0.93, "sensitivity": 0.84, "specificity": 0.88,
                           "confusion_matrix": [[44, 6], [8, 42]], "ece": 0.041, "n": 100,
                           "reliability": {"bin_edges": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
                                           "accuracy": [0.55, 0.62, 0.78, None, 0.95],
                                           "confidence": [0.56, 0.65, 0.75, None, 0.94],
                                           "count": [10, 20, 30, 0, 40]}},
        },
        "data": {"source": "synthetic", "data_dir": "/data/pcam-synthetic", "fingerprint": "synthetic-0001",
                 "split": "valid", "counts": {"train": 800, "valid": 100, "test": 100},
                 "class_balance": {"valid": {"0": 50, "1": 50}}, "has_masks": True,
                 "selection": {"n": n_images, "description": "stratified by outcome, seeded",
                               "strata": {"TP": 1, "TN": 1, "FP": 1, "FN": 0}}},
        "settings": {"target": "predicted", "steps": STEPS, "substrates": {"deletion": "mean", "insertion": "blur"},
                     "tie_break": "seeded permutation", "seed": 0, "precision": "fp32", "methods": names,
                     "score": "softmax"},
        "methods": methods,
        "baselines": baselines,
        "significance": {kind: [{"a": a, "b": b, "statistic": 3.0, "p_value": 0.01 * (i + 1),
                                 "p_holm": 0.03 * (i + 1), "n": n_images}
                                for i, (a, b) in enumerate([(names[0], names[1]), (names[0], names[2]),
                                                            (names[1], names[2])])]
                         for kind in ("deletion", "insertion")},
        "substrate_rankings": {"black": {"deletion": names, "insertion": names[::-1]}},
        "agreement": {"methods": names, "spearman": [[1.0, 0.4, 0.3], [0.4, 1.0, 0.2], [0.3, 0.2, 1.0]],
                      "iou_top10": [[1.0, 0.25, 0.2], [0.25, 1.0, 0.1], [0.2, 0.1, 1.0]]},
        "localisation": {name: {"centre_mass": {"mean": 0.3 - 0.1 * number, "ci95": [0.0, 0.4],
                                                "per_image": [0.3] * n_images},
                                "pointing_game": {"mean": 0.67, "ci95": [0.33, 1.0], "per_image": [1, 1, 0]},
                                "mass_in_mask": None}
                         for number, name in enumerate(names)},
        "sanity": {"images": 2, "stages": ["fc", "layer4", "layer3"],
                   "methods": {name: {"similarity": [0.9, 0.5 if name != "lime" else 0.92, 0.2 if name != "lime"
                                                     else 0.9], "final": 0.2 if name != "lime" else 0.9,
                                      "passed": name != "lime"} for name in names}},
        "images": images,
        "provenance": {"command_line": "reportgen run --data /data/pcam-synthetic --seed 0",
                       "config": {"seed": 0, "steps": STEPS, "methods": names, "output": "report/"},
                       "seed": 0, "versions": {"reportgen": "0.1.0", "torch": "2.4.0", "captum": "0.7.0"},
                       "checkpoint_sha256": "ab" * 32, "data_fingerprint": "synthetic-0001",
                       "machine": {"device": "cpu", "threads": 2}, "timings": {"explain": 12.5, "metrics": 3.25},
                       "metric_notes": ["AUC = (sum(p) - p0/2 - pN/2) / N for N steps."]},
        "comparison": None,
        "gates": None,
    }
    return document


def make_previous(document: dict) -> dict:
    """An earlier run of the same audit: another checkpoint, lower accuracy, different AUCs."""
    previous = copy.deepcopy(document)
    previous["generated_at"] = "2026-11-19T12:00:00+00:00"
    previous["model"]["checkpoint"]["sha256"] = "cd" * 32
    previous["model"]["evaluation"]["accuracy"] = 0.80
    previous["methods"]["grad_cam"]["deletion_auc"]["mean"] -= 0.1
    previous["methods"]["integrated_gradients"]["insertion_auc"]["mean"] += 0.02
    previous["images"][0]["per_method"]["grad_cam"]["deletion_auc"] -= 0.25
    previous["images"] = previous["images"][:1] + [dict(previous["images"][1], patch_id="valid:99999")]
    previous["summary"] = {"warnings": ["an old warning that no longer applies"]}
    return previous


def make_figures(n_images: int = 3, *, methods=tuple(METHODS), with_masks: bool = True) -> FigureInputs:
    """Textured patches (so PNGs do not compress to nothing) and smooth, distinct maps per method."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    base = np.stack([0.8 - 0.3 * yy, 0.5 + 0.2 * xx, 0.75 - 0.1 * xx * yy], axis=-1)
    images = np.clip(base[None] + rng.normal(0.0, 0.08, (n_images, SIZE, SIZE, 3)), 0, 1)
    images = (images * 255).round().astype(np.uint8)
    maps = {}
    for number, name in enumerate(methods):
        centre = 0.3 + 0.2 * number
        blob = np.exp(-((xx - centre) ** 2 + (yy - 0.5) ** 2) / 0.05)
        maps[name] = np.stack([blob * (1 - 0.1 * i) for i in range(n_images)]).astype(np.float32)
    masks = None
    if with_masks:
        masks = np.zeros((n_images, SIZE, SIZE), np.uint8)
        masks[:, 36:60, 36:60] = 1
    return FigureInputs(images=images, maps=maps, masks=masks)
