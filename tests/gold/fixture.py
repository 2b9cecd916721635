"""A realistic report document and its figure arrays, produced from small seeded arrays.

The document goes through the one producer a build uses
(:func:`reportgen.pipeline.document.assemble_document`), from a
:class:`~reportgen.pipeline.document.BuildRecord` of seeded arrays, so the report
tests render exactly the kind of document a build writes.  Agreement and
localisation are computed from the fixture's maps by the real metric
functions, the patch notes by the real note writer.  Used by the gold-file test (3 patches), the size test and
``benchmarks/bench_render.py`` (30 patches).
"""

from __future__ import annotations

import copy
import functools

import numpy as np

from reportgen.config import resolve_config
from reportgen.explain.grad_cam import GRAD_CAM_LAYERS, GradCAM
from reportgen.metrics.agreement import agreement_matrix
from reportgen.metrics.stability import map_similarity, pairwise_similarity
from reportgen.pipeline.document import BuildRecord, DataFacts, assemble_document
from reportgen.pipeline.explain import MethodResult
from reportgen.pipeline.model_checks import ModelCheckOutcome, StainDecision
from reportgen.pipeline.sanity import SanityOutcome
from reportgen.pipeline.score import SUBSTRATE_METRICS, CurveSet, Scores, localisation_scores
from reportgen.pipeline.selection import Selection
from reportgen.pipeline.stability import Repeatability, SettingPairs, SettingTable, StabilityOutcome
from reportgen.pipeline.stain import ClassStainOutcome, StainCondition, StainOutcome
from reportgen.report.figures import FigureInputs

METHODS = {
    "integrated_gradients": ("Integrated Gradients", "Sundararajan et al., ICML 2017"),
    "grad_cam": ("Grad-CAM", "Selvaraju et al., ICCV 2017"),
    "lime": ("LIME", "Ribeiro et al., KDD 2016"),
}
REFERENCES = ("random", "centre_prior", "sobel")
#: Mean deletion and insertion AUC each map set is drawn around; LIME loses to the random map on deletion.
AUC_CENTRES = {"integrated_gradients": (0.20, 0.70), "grad_cam": (0.28, 0.65), "lime": (0.55, 0.60),
               "random": (0.45, 0.45), "centre_prior": (0.40, 0.50), "sobel": (0.47, 0.44)}
SETTINGS = {
    "integrated_gradients": {"method": "integrated_gradients", "n_steps": 50, "baseline": "black"},
    "grad_cam": {"method": "grad_cam", "target_layer": "layer4[-1]", "feature_map_size": "3x3"},
    "lime": {"method": "lime", "segmentation": "quickshift", "kernel_size": 4, "max_dist": 200, "ratio": 0.2,
             "num_samples": 1000},
}
STEPS = 20
SIZE = 96
GENERATED_AT = "2026-11-26T12:00:00+00:00"


def _blob(x: float, y: float, width: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / width)


def make_maps(n_images: int = 3) -> dict[str, np.ndarray]:
    """(N, 96, 96) float32 raw maps: IG on the centre, Grad-CAM on the centre but on the border of
    patch 0, LIME left of the centre (less centre mass than a uniform map)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    ring = (np.minimum(np.minimum(xx, yy), np.minimum(SIZE - 1 - xx, SIZE - 1 - yy)) < 8).astype(float)
    maps = {
        "integrated_gradients": [_blob(0.5, 0.5, 0.03) * (1 - 0.1 * i) for i in range(n_images)],
        "grad_cam": [ring if i == 0 else _blob(0.48, 0.52, 0.04) for i in range(n_images)],
        "lime": [_blob(0.24, 0.5, 0.004) * (1 - 0.1 * i) for i in range(n_images)],
    }
    return {name: np.stack(values).astype(np.float32) for name, values in maps.items()}


def _curves(rng: np.random.Generator, deletion: float, insertion: float, n: int) -> CurveSet:
    """Curves 0.95 (1 - x)^k and 1 - 0.8 (1 - x)^k whose AUCs scatter around ``deletion`` and ``insertion``;
    the least-relevant-first curve falls four times more slowly than the most-relevant-first one."""
    x = np.linspace(0.0, 1.0, STEPS + 1)
    k_deletion = (0.95 / deletion - 1) * np.exp(rng.normal(0.0, 0.15, (n, 1)))
    k_insertion = (0.8 / (1 - insertion) - 1) * np.exp(rng.normal(0.0, 0.15, (n, 1)))
    return CurveSet(deletion=0.95 * (1 - x) ** k_deletion, insertion=1 - 0.8 * (1 - x) ** k_insertion,
                    least_first=0.95 * (1 - x) ** (k_deletion / 4))


def _drift(n_images: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per substrate: drift growing with the replaced fraction, largest for black; top-1 changes where it is above 0.3."""
    rng = np.random.default_rng(seed + 1000)
    scale = {"mean": 0.08, "blur": 0.03, "black": 0.25, "white": 0.12}
    drift = {name: np.clip(size * np.array([1.0, 1.6, 2.0]) * rng.uniform(0.5, 1.5, (n_images, 1)), 0, 1)
             for name, size in scale.items()}
    return {name: (values, values > 0.3) for name, values in drift.items()}


def _display(maps: np.ndarray) -> np.ndarray:
    flat = np.abs(maps).reshape(len(maps), -1)
    low, span = flat.min(axis=1, keepdims=True), np.ptp(flat, axis=1, keepdims=True)
    return ((flat - low) / np.where(span > 0, span, 1.0)).reshape(maps.shape).astype(np.float32)


def _masks(n_images: int) -> np.ndarray:
    masks = np.zeros((n_images, SIZE, SIZE), np.uint8)
    masks[:, 36:60, 36:60] = 1
    return masks


def _stability(rng: np.random.Generator, methods: dict[str, MethodResult], n: int) -> StabilityOutcome:
    """LIME under a second seed (its map shifted), IG per baseline (noisier maps) and Grad-CAM per layer:
    layer2 scores like IG, layer3 between, layer4 like the random map, so the deletion verdict changes with the layer."""
    lime = methods["lime"]
    second = MethodResult(name="lime", title=lime.title, reference=lime.reference,
                          maps=np.roll(lime.maps, 6, axis=2), display_maps=lime.display_maps, settings=lime.settings)
    ig = methods["integrated_gradients"]
    baselines = {"black": ig.maps, "white": ig.maps + rng.normal(0, 0.2, ig.maps.shape).astype(np.float32),
                 "blur": ig.maps + rng.normal(0, 0.05, ig.maps.shape).astype(np.float32)}
    results = {name: MethodResult(name=ig.name, title=ig.title, reference=ig.reference, maps=maps, display_maps=maps,
                                  settings={**ig.settings, "baseline": name}) for name, maps in baselines.items()}
    centres = {"black": (0.20, 0.70), "white": (0.30, 0.62), "blur": (0.24, 0.66)}
    layer_centres = {"backbone.layer2.1": (0.20, 0.70), "backbone.layer3.1": (0.32, 0.60), "backbone.layer4.1": (0.45, 0.45)}
    return StabilityOutcome(measured={
        "lime_seeds": Repeatability(method="lime", seed_rule="second seed SeedSequence([1, patch index])",
                                    second=second, similarity=map_similarity(lime.maps, second.maps), seconds=40.0),
        "ig_baselines": SettingPairs(method=ig.name, used="black", results=results,
                                     curves={name: _curves(rng, *centres[name], n) for name in baselines},
                                     pairs=pairwise_similarity(baselines), seconds=60.0),
        "grad_cam_layers": SettingTable(method="grad_cam", default="backbone.layer4.1", used="backbone.layer4.1",
                                        facts={layer: {"feature_map_size": size}
                                               for layer, size in zip(GRAD_CAM_LAYERS, ("12x12", "6x6", "3x3"))},
                                        curves={layer: _curves(rng, *layer_centres[layer], n)
                                                for layer in GRAD_CAM_LAYERS},
                                        seconds=45.0)})


def _stain(rng: np.random.Generator, methods: dict[str, MethodResult], n: int) -> StainOutcome:
    """HED light barely changes the decision while LIME's maps move (it explains the stain); HED strong flips most
    predictions; Macenko leaves the first patch unchanged (no tissue)."""
    shifts = {"integrated_gradients": 0, "grad_cam": 1, "lime": 20}
    effects = {"hed_light": (np.zeros(n), 0.02, np.zeros(n, bool)),
               "hed_strong": ((np.arange(n) > 0).astype(float), 0.3, np.zeros(n, bool)),
               "macenko": (np.zeros(n), 0.05, np.arange(n) == 0),
               "hed_data": (np.zeros(n), 0.04, np.zeros(n, bool))}
    conditions = {}
    for name, (flipped, change, unchanged) in effects.items():
        perturbed = {method: np.roll(result.maps, shifts[method], axis=2) for method, result in methods.items()}
        conditions[name] = StainCondition(
            name=name, flipped=flipped, probability_change=change * rng.uniform(-1, 1, n),
            rgb_change=rng.uniform(0.02, 0.2, n), unchanged=unchanged,
            similarity={method: map_similarity(methods[method].maps, maps) for method, maps in perturbed.items()},
            deletion={key: _curves(rng, *AUC_CENTRES[key], n).deletion for key in (*methods, "random")}, seconds=2.0)
    return StainOutcome(count=n, seed_rule="HED jitter per patch from SeedSequence([7919, patch index])",
                        conditions=conditions, reference_patches=64)


def _model_checks(rng: np.random.Generator, evaluated: int = 100) -> ModelCheckOutcome:
    """The model-level checks on every evaluated patch, from 8 slides: HED light barely changes the decision, HED
    strong flips most predictions, Macenko leaves 3 patches unchanged; the decision barely follows the other class's
    stain; the tumour calls survive removing the periphery."""
    labels = np.arange(evaluated) % 2
    slides = np.array([f"slide-{i % 8}" for i in range(evaluated)], dtype=object)
    effects = {"hed_light": (0.03, 0.02), "hed_strong": (0.6, 0.3), "macenko": (0.05, 0.05), "hed_data": (0.04, 0.04)}
    stain = {}
    for name, (flips, change) in effects.items():
        stain[name] = StainDecision(
            flipped=(rng.random(evaluated) < flips).astype(float), probability_change=change * rng.uniform(-1, 1, evaluated),
            rgb_change=rng.uniform(0.02, 0.2, evaluated),
            unchanged=(np.arange(evaluated) < 3) if name == "macenko" else np.zeros(evaluated, bool))
    indices = np.arange(0, 2 * evaluated, 2)
    donors = np.roll(np.arange(evaluated), 1)
    change = rng.normal(0.0, 0.05, evaluated)
    class_stain = ClassStainOutcome(
        patch_indices=indices, labels=labels, slides=slides, donors=indices[donors],
        flipped=(np.arange(evaluated) % 16 == 0).astype(float), probability_change=change,
        toward_donor=np.where(labels[donors] == 1, 1.0, -1.0) * change, unchanged=np.zeros(evaluated, bool),
        class_amounts={0: np.array([0.021, 0.012, 0.001]), 1: np.array([0.024, 0.012, 0.001])})
    clean = np.where(labels == 1, 0.9, 0.1)
    return ModelCheckOutcome(
        patch_indices=indices, labels=labels, slides=slides, evaluated=evaluated,
        chosen=f"every evaluated patch ({evaluated})", tumour_clean=clean, without_periphery=clean - 0.05,
        without_centre=np.full(evaluated, 0.2), periphery_only=None, stain=stain, class_stain=class_stain,
        seconds={})


def make_record(n_images: int = 3, *, seed: int = 0) -> BuildRecord:
    """What a build of ``n_images`` patches with three methods would have computed, from seeded arrays."""
    rng = np.random.default_rng(seed)
    config = resolve_config(flag_values={
        "images": max(n_images, 2), "title": "PCam audit <fixture> & friends", "model_name": "resnet18-pcam",
        "steps": STEPS, "data_dir": "/data/pcam-synthetic", "out": "report/", "sanity_images": 2})
    maps = make_maps(n_images)
    methods = {}
    for name, (title, reference) in METHODS.items():
        methods[name] = MethodResult(
            name=name, title=title, reference=reference, maps=maps[name], display_maps=_display(maps[name]),
            settings=SETTINGS[name], seconds=1.5, forward_passes=100 * n_images, backward_passes=0,
            signed=name == "lime")
    methods["grad_cam"].warnings = [GradCAM.coarse_message(SETTINGS["grad_cam"]["target_layer"], "3x3")]
    deltas = np.abs(rng.normal(0, 0.01, n_images))
    methods["integrated_gradients"].extras = {"abs_completeness_delta": deltas,
                                              "relative_completeness_delta": deltas / 2.0}
    superpixels = rng.integers(5, 13, n_images)
    methods["lime"].extras = {"n_superpixels": superpixels.astype(np.float64),
                              "distinct_perturbations": np.floor(np.minimum(2.0 ** superpixels, 1000.0) * 0.6)}
    curves = {name: _curves(rng, *AUC_CENTRES[name], n_images) for name in [*METHODS, *REFERENCES]}
    stability = _stability(np.random.default_rng(seed + 1), methods, n_images)
    reference_maps = {name: rng.random((n_images, SIZE, SIZE)).astype(np.float32) for name in REFERENCES}
    masks = _masks(n_images)
    scores = Scores(
        curves=curves, reference_names=list(REFERENCES),
        substrate_aucs={"black": {metric: {name: getattr(curves[name], attribute) for name in curves}
                                  for metric, attribute in SUBSTRATE_METRICS.items()}},
        agreement=agreement_matrix(maps),
        localisation=localisation_scores({**maps, **reference_maps}, masks, seed=0),
        curve_forward_passes=2 * STEPS * n_images * len(curves),
        substrate_drift=_drift(n_images, seed),
    )
    similarity = {"integrated_gradients": (0.9, 0.5, 0.2), "grad_cam": (0.8, 0.4, 0.1), "lime": (0.95, 0.92, 0.9)}
    sanity = {name: SanityOutcome(stages=["fc", "layer4", "layer3"],
                                  per_image=np.repeat(np.array(values)[:, None], 2, axis=1))
              for name, values in similarity.items()}
    # The positive control ignores the model: its maps stay identical through the cascade.
    controls = {"sobel": SanityOutcome(stages=["fc", "layer4", "layer3"], per_image=np.ones((3, 2)))}
    labels = np.arange(n_images) % 2
    predictions = np.where(np.arange(n_images) % 4 < 2, labels, 1 - labels)
    confidence = 0.6 + 0.01 * np.arange(n_images)
    probabilities = np.stack([np.where(predictions == 1, 1 - confidence, confidence),
                              np.where(predictions == 1, confidence, 1 - confidence)], axis=1)
    strata = [("TP" if p else "TN") if p == y else ("FP" if p else "FN") for y, p in zip(labels, predictions)]
    return BuildRecord(
        config=config, command_line="reportgen build --data-dir /data/pcam-synthetic --seed 0",
        data=DataFacts(source="synthetic", data_dir="/data/pcam-synthetic", fingerprint="synthetic-0001",
                       counts={"train": 800, "valid": 100, "test": 100}, split_label_counts={"0": 50, "1": 50},
                       has_masks=True),
        model_info={
            "path": "/models/resnet18_patchcamelyon_final.pth", "sha256": "ab" * 32, "format": "notebook",
            "architecture": "resnet18", "recipe": "full", "weights": "none", "preprocessing_source": "assumed",
            "preprocessing": {"mean": [0.7, 0.55, 0.7], "std": [0.15, 0.2, 0.15], "input_size": 96,
                              "resize_to": None},
            "training": {"epochs": 2, "batch_size": 64, "learning_rate": 0.001, "data_fingerprint": "synthetic-0001"},
            "history": [{"epoch": 1, "loss": 0.51, "val_accuracy": 0.81, "seconds": 12.5, "images_per_second": 410.2},
                        {"epoch": 2, "loss": 0.42, "val_accuracy": 0.86, "seconds": 12.1,
                         "images_per_second": 423.9}],
            "evaluation": None,
        },
        evaluation={"accuracy": 0.86, "roc_auc": 0.93, "sensitivity": 0.84, "specificity": 0.88,
                    "confusion_matrix": [[44, 6], [8, 42]], "ece": 0.041, "n": 100, "limit": None,
                    # 86 of 100 correct: the exact binomial interval; the ECE's as a bootstrap would give it.
                    "intervals": {"unit": "patch", "units": 100, "accuracy": {"mean": 0.86, "ci95": [0.776, 0.921]},
                                  "ece": {"mean": 0.041, "ci95": [0.022, 0.074]}},
                    "reliability": {"bin_edges": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
                                    "accuracy": [0.55, 0.62, 0.78, None, 0.95],
                                    "confidence": [0.56, 0.65, 0.75, None, 0.94], "count": [10, 20, 30, 0, 40]}},
        selection=Selection(split=config.split, indices=1000 + np.arange(n_images), labels=labels,
                            predictions=predictions, probabilities=probabilities, targets=predictions,
                            strata=tuple(strata), slide_ids=None, description="stratified by outcome, seeded"),
        methods=methods, scores=scores, sanity=sanity,
        sanity_controls=controls,
        dataset_mean=(0.7, 0.55, 0.7), machine={"device": "cpu", "threads": 2},
        versions={"reportgen": "0.1.0", "torch": "2.4.0", "captum": "0.7.0"},
        timings={"explain": 12.5, "curves": 3.25}, stability=stability, images=make_images(n_images), masks=masks,
        stain=_stain(np.random.default_rng(seed + 2), methods, n_images),
        model_checks=_model_checks(np.random.default_rng(seed + 3)),
    )


def make_document(n_images: int = 3, *, seed: int = 0) -> dict:
    """A complete report document with ``n_images`` explained patches and three methods.

    Each call returns a copy of its own, which the caller may change; the document is assembled once per
    process for each ``(n_images, seed)``.
    """
    return copy.deepcopy(_assembled_document(n_images, seed))


@functools.cache
def _assembled_document(n_images: int, seed: int) -> dict:
    return assemble_document(make_record(n_images, seed=seed), generated_at=GENERATED_AT)


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


def make_images(n_images: int = 3) -> np.ndarray:
    """(N, 96, 96, 3) uint8 textured patches (so PNGs do not compress to nothing)."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    base = np.stack([0.8 - 0.3 * yy, 0.5 + 0.2 * xx, 0.75 - 0.1 * xx * yy], axis=-1)
    images = np.clip(base[None] + rng.normal(0.0, 0.08, (n_images, SIZE, SIZE, 3)), 0, 1)
    return (images * 255).round().astype(np.uint8)


def make_figures(n_images: int = 3, *, methods=tuple(METHODS), with_masks: bool = True) -> FigureInputs:
    """The record's patches and raw maps."""
    maps = make_maps(n_images)
    return FigureInputs(images=make_images(n_images), maps={name: maps[name] for name in methods},
                        masks=_masks(n_images) if with_masks else None)
