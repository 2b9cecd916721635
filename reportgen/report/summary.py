"""The report's verdict and warnings in plain words, computed from the document.

The document producer calls :func:`summarise_findings` and stores the result in
``document["summary"]`` before rendering, so report.json carries the same words
as the HTML and a later run can tell which warnings are new.
"""

from __future__ import annotations

import statistics
from typing import Any

LOW_ACCURACY = 0.8
SIGNIFICANCE_LEVEL = 0.05
# Share of a uniform map inside PCam's centre 32x32 region of a 96x96 patch (METRICS.md).
UNIFORM_CENTRE_MASS = 1024 / 9216
# A CAM with this many cells or fewer is coarse (METRICS.md: warn at 3x3 or smaller) ...
COARSE_CAM_CELLS = 9
#: A superpixel map with fewer superpixels than this (a 4x4 grid) is said to localise coarsely.
COARSE_SUPERPIXELS = 16
#: Pixels of a PCam patch (96 x 96) and of its centre label region (32 x 32).
PATCH_PIXELS, CENTRE_PIXELS = 96 * 96, 32 * 32
# ... and the next-finer block of the PCam ResNet-18 (6x6 at 96 px) is the one to compare.
FINER_CAM_LAYER = "backbone.layer3.1"
# A metric whose direction says which AUC is better (Petsiuk et al., RISE, BMVC 2018).
DIRECTIONS = {"deletion": ("deletion_auc", "lower"), "insertion": ("insertion_auc", "higher")}


def model_accuracy(document: dict) -> float | None:
    """Validation accuracy of the model: the evaluation's, else the checkpoint's ``val_accuracy``."""
    model = document.get("model") or {}
    evaluation = model.get("evaluation") or {}
    value = evaluation.get("accuracy", model.get("val_accuracy"))
    return None if value is None else float(value)


def method_title(document: dict, name: str) -> str:
    """Display title of a method or reference map, falling back to its registry name."""
    record = (document.get("methods") or {}).get(name) or (document.get("baselines") or {}).get(name) or {}
    return str(record.get("title") or name)


def find_comparison(document: dict, kind: str, first: str, second: str) -> dict | None:
    """The significance test between two methods for ``kind`` ("deletion"/"insertion"), either order."""
    for test in (document.get("significance") or {}).get(kind, []):
        if {test.get("a"), test.get("b")} == {first, second}:
            return test
    return None


def rank_methods(document: dict, kind: str) -> list[str]:
    """Method names best-first by mean AUC for ``kind``; ties keep the document's order."""
    key, direction = DIRECTIONS[kind]
    methods = document.get("methods") or {}
    scored = [(name, record[key]["mean"]) for name, record in methods.items() if key in record]
    sign = 1.0 if direction == "lower" else -1.0
    return [name for name, _ in sorted(scored, key=lambda item: sign * item[1])]


def most_faithful(document: dict, kind: str) -> dict[str, Any] | None:
    """The best method for ``kind`` with its interval and the test against the runner-up.

    Returns
    -------
    dict or None
        ``{"method", "title", "metric", "direction", "mean", "ci95", "runner_up", "runner_up_title",
        "p_holm", "significant"}``; ``None`` when no method has the metric.
    """
    key, direction = DIRECTIONS[kind]
    ranking = rank_methods(document, kind)
    if not ranking:
        return None
    best = ranking[0]
    record = document["methods"][best][key]
    result = {
        "method": best, "title": method_title(document, best), "metric": key, "direction": direction,
        "mean": float(record["mean"]), "ci95": [float(v) for v in record.get("ci95", [record["mean"]] * 2)],
        "runner_up": None, "runner_up_title": None, "p_holm": None, "significant": False,
    }
    if len(ranking) > 1:
        runner_up = ranking[1]
        test = find_comparison(document, kind, best, runner_up)
        p_holm = None if test is None or test.get("p_holm") is None else float(test["p_holm"])
        result.update(runner_up=runner_up, runner_up_title=method_title(document, runner_up), p_holm=p_holm,
                      significant=p_holm is not None and p_holm < SIGNIFICANCE_LEVEL)
    return result


def _interval(values: list[float]) -> str:
    return f"[{values[0]:.3f}, {values[1]:.3f}]"


def _faithfulness_sentence(kind: str, best: dict) -> str:
    sentence = (f"By {kind} AUC ({best['direction']} is better) the most faithful method is {best['title']} "
                f"({best['mean']:.3f} {_interval(best['ci95'])})")
    if best["runner_up"] is None:
        return sentence + "; it is the only method."
    if best["p_holm"] is None:
        return sentence + f"; its difference to {best['runner_up_title']} was not tested."
    verdict = "significant" if best["significant"] else "not significant"
    return (sentence + f"; the difference to {best['runner_up_title']} is {verdict} "
            f"(Holm-corrected Wilcoxon p = {best['p_holm']:.3g}).")


def coarse_cam_layer(settings: dict) -> str | None:
    """The target layer of a CAM method whose feature map is 3x3 or smaller, else None.

    ``settings`` is a method's ``settings`` record; ``feature_map_size`` is "HxW"
    (reportgen.explain._cam). At 96 px, ResNet-18's last block is 3x3 and every
    cell's receptive field covers the whole patch, so whether its cells follow
    the evidence depends on the trained weights, not on the method.
    """
    layer, size = settings.get("target_layer"), str(settings.get("feature_map_size") or "")
    try:
        height, width = (int(part) for part in size.split("x"))
    except ValueError:
        return None
    return str(layer) if layer and height * width <= COARSE_CAM_CELLS else None


def coarse_superpixels(record: dict) -> str | None:
    """A sentence (with ``{title}`` for the method's name) when a superpixel method's maps are too coarse.

    ``record`` is a method's record; its ``extras.n_superpixels.per_image``
    holds each patch's superpixel count (LIME, KernelSHAP).  The map cannot
    be finer than its superpixels, so with fewer than :data:`COARSE_SUPERPIXELS`
    (median over the patches) an average superpixel is about as large as the
    centre region that decides the label, or larger.
    """
    counts = [value for value in (((record.get("extras") or {}).get("n_superpixels") or {}).get("per_image") or [])
              if value is not None]
    if not counts:
        return None
    median = statistics.median(counts)
    if median >= COARSE_SUPERPIXELS:
        return None
    size = PATCH_PIXELS / median
    return (f"{{title}} divides a patch into only {median:g} superpixels (median over the patches; {min(counts):g} "
            f"to {max(counts):g}), so its map cannot localise finer than that: an average superpixel "
            f"({size:.0f} pixels) is {size / CENTRE_PIXELS:.1f} times the centre 32x32 region that decides the label.")


def collect_warnings(document: dict) -> list[str]:
    """Every warning a reader must see, one sentence each, in a stable order."""
    warnings: list[str] = []
    accuracy = model_accuracy(document)
    if accuracy is not None and accuracy < LOW_ACCURACY:
        warnings.append(f"The model's validation accuracy is low ({accuracy:.3f} < {LOW_ACCURACY}); "
                        "explanations of a weak model say little about the task.")
    methods = document.get("methods") or {}
    for name, record in methods.items():
        title = method_title(document, name)
        lost = [kind for kind, beats in (record.get("beats_random") or {}).items() if beats is False]
        for kind in lost:
            warnings.append(f"{title} is no better than the random reference map on {kind} AUC.")
        coarse_layer = coarse_cam_layer(record.get("settings") or {})
        if lost and coarse_layer:
            warnings.append(f"{title}: the {coarse_layer} map has {COARSE_CAM_CELLS} cells or fewer, each seeing the "
                            "whole patch, so it can lose the link to where the evidence lies; compare a finer layer "
                            f"with --grad-cam-layer {FINER_CAM_LAYER}.")
        for message in record.get("warnings") or []:
            warnings.append(f"{title}: {message}")
        coarse = coarse_superpixels(record)
        if coarse:
            warnings.append(coarse.replace("{title}", title))
    sanity = document.get("sanity") or {}
    for name, record in (sanity.get("methods") or {}).items():
        if record.get("passed") is False:
            warnings.append(f"{method_title(document, name)} failed the model-randomisation sanity check "
                            f"(similarity {float(record.get('final', float('nan'))):.2f} after randomising the "
                            "network): its maps depend on the image more than on the model.")
    for name, record in (document.get("localisation") or {}).items():
        if name not in methods:
            continue
        centre = (record or {}).get("centre_mass") or {}
        if "mean" in centre and centre["mean"] < UNIFORM_CENTRE_MASS:
            warnings.append(f"{method_title(document, name)} puts less attribution on the centre 32x32 region "
                            f"than a uniform map would ({centre['mean']:.3f} < {UNIFORM_CENTRE_MASS:.3f}): "
                            "it looks at the border, not where the label is decided.")
    images = document.get("images") or []
    border_notes = sum(1 for image in images if "border" in str(image.get("note", "")).lower())
    if border_notes:
        warnings.append(f"{border_notes} of {len(images)} patch notes report attribution concentrated "
                        "on the patch border.")
    return warnings


def summarise_findings(document: dict) -> dict[str, Any]:
    """Verdict, most faithful method per metric, warnings and accuracy of a report document.

    Parameters
    ----------
    document : report document, schema_version 1 (``summary`` itself is not read).

    Returns
    -------
    dict
        ``{"verdict": str, "most_faithful": {"deletion": dict | None, "insertion": dict | None},
        "warnings": [str], "accuracy": float | None}``; see :func:`most_faithful`.
    """
    best = {kind: most_faithful(document, kind) for kind in DIRECTIONS}
    warnings = collect_warnings(document)
    accuracy = model_accuracy(document)
    sentences = []
    if best["deletion"] and best["insertion"] and best["deletion"]["method"] == best["insertion"]["method"]:
        sentences.append(f"{best['deletion']['title']} is the most faithful method by both deletion and "
                         "insertion AUC.")
    sentences.extend(_faithfulness_sentence(kind, record) for kind, record in best.items() if record)
    if not any(best.values()):
        sentences.append("No explanation method was scored.")
    if accuracy is not None:
        sentences.append(f"The model's validation accuracy is {accuracy:.3f}.")
    sentences.append(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''} below." if warnings
                     else "No warnings.")
    return {"verdict": " ".join(sentences), "most_faithful": best, "warnings": warnings, "accuracy": accuracy}
