"""Assemble the report document (report.json): every number the report shows, as plain types.

The document is the boundary between computing and rendering: templates read
only this dict (plus the patch images and display maps), so report tests need
no torch.  ``schema_version`` changes when a key changes meaning.
"""

from __future__ import annotations

import datetime as _datetime

import numpy as np

from reportgen import __version__
from reportgen.explain import get_explainer
from reportgen.metrics.faithfulness import NOTEBOOK_DELETION_NOTE, TIE_BREAK_RULE
from reportgen.metrics.references import REFERENCE_TITLES
from reportgen.metrics.stats import pairwise_wilcoxon, plain_float, summarise
from reportgen.runtime import machine_description, package_versions

SCHEMA_VERSION = 1

METRIC_NOTES = (
    "Deletion: pixels are replaced by the deletion substrate in order of attribution, highest first; "
    "the curve is the softmax probability of the tracked class; lower area is better.",
    "Insertion: pixels are restored from the image onto the insertion substrate in the same order; "
    "higher area is better.",
    "Area under each curve: trapezoid over the fraction of pixels changed, x in [0, 1]; "
    "intervals are percentile-bootstrap 95% intervals of the mean over patches.",
    NOTEBOOK_DELETION_NOTE,
    "Significance: two-sided paired Wilcoxon signed-rank tests on per-patch AUCs, Holm-corrected across pairs.",
)


def _auc_section(values: np.ndarray, seed: int) -> dict:
    return summarise(values, seed=seed)


def _mean_curve(curves: np.ndarray) -> list[float]:
    return [float(v) for v in np.nanmean(curves, axis=0)]


def _maybe_summary(values, seed: int) -> dict | None:
    return None if values is None else summarise(values, seed=seed)


def _faithfulness_entry(curve_set, seed: int) -> dict:
    return {
        "deletion_auc": _auc_section(curve_set.deletion_auc, seed),
        "insertion_auc": _auc_section(curve_set.insertion_auc, seed),
        "curves": {"deletion_mean": _mean_curve(curve_set.deletion),
                   "insertion_mean": _mean_curve(curve_set.insertion)},
    }


def _ranking(aucs: dict[str, np.ndarray], *, lower_is_better: bool) -> list[str]:
    means = {name: float(np.nanmean(values)) for name, values in aucs.items()}
    return sorted(means, key=lambda name: means[name] if lower_is_better else -means[name])


def _plain(value):
    """Numpy scalars and arrays to JSON-safe Python values (non-finite floats become None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return plain_float(value)
    return value


def _sanity_section(sanity: dict | None) -> dict | None:
    if sanity is None:
        return None
    methods = {}
    stages = None
    for name, outcome in sanity["methods"].items():
        record = outcome.to_dict() if hasattr(outcome, "to_dict") else dict(outcome)
        stages = stages or record.get("stages")
        methods[name] = record
    return {"images": sanity["images"], "stages": stages, "methods": methods}


def assemble_document(*, config, command_line, data, loaded, evaluation, patch_indices, labels, predictions,
                      probabilities, targets, strata, slide_ids, selection_description, methods, scores,
                      dataset_mean, device, timings) -> dict:
    """The report document; see README "report.json" for every key."""
    seed = config.seed
    method_names = list(methods)
    info = loaded.info

    method_sections = {}
    for name, result in methods.items():
        registry = get_explainer(name)
        entry = _faithfulness_entry(scores.curves[name], seed)
        entry.update(
            title=result.title, reference=registry.reference, settings=result.settings,
            seconds=result.seconds, forward_passes=result.forward_passes,
            backward_passes=result.backward_passes, cached_patches=result.cached, warnings=list(result.warnings),
            extras={key: summarise(values, seed=seed) for key, values in result.extras.items()},
        )
        method_sections[name] = entry
    baselines = {name: {"title": REFERENCE_TITLES.get(name, name), **_faithfulness_entry(scores.curves[name], seed)}
                 for name in scores.reference_names}
    random = baselines["random"]
    for entry in method_sections.values():
        entry["beats_random"] = {
            "deletion": entry["deletion_auc"]["mean"] < random["deletion_auc"]["mean"],
            "insertion": entry["insertion_auc"]["mean"] > random["insertion_auc"]["mean"],
        }

    significance = {
        mode: pairwise_wilcoxon({name: getattr(scores.curves[name], f"{mode}_auc") for name in method_names})
        if len(method_names) > 1 else []
        for mode in ("deletion", "insertion")
    }
    substrate_rankings = {
        substrate: {mode: _ranking({n: v for n, v in by_name.items() if n in methods},
                                   lower_is_better=(mode == "deletion"))
                    for mode, by_name in by_mode.items()}
        for substrate, by_mode in scores.substrate_aucs.items()
    } or None
    substrate_aucs = {
        substrate: {mode: {name: plain_float(np.nanmean(values)) for name, values in by_name.items()}
                    for mode, by_name in by_mode.items()}
        for substrate, by_mode in scores.substrate_aucs.items()
    } or None

    localisation = {
        name: {key: _maybe_summary(values, seed) for key, values in entry.items()}
        for name, entry in scores.localisation.items()
    }

    images = []
    for i, patch in enumerate(patch_indices):
        images.append({
            "patch_id": f"{config.split}:{int(patch)}",
            "index": int(patch),
            "label": int(labels[i]),
            "prediction": int(predictions[i]),
            "probability": float(probabilities[i].max()),
            "tumour_probability": float(probabilities[i][1]),
            "target": int(targets[i]),
            "stratum": strata[i],
            "slide_id": None if slide_ids is None else str(slide_ids[i]),
            "per_method": {
                name: {
                    "deletion_auc": plain_float(scores.curves[name].deletion_auc[i]),
                    "insertion_auc": plain_float(scores.curves[name].insertion_auc[i]),
                    "centre_mass": plain_float(scores.localisation[name]["centre_mass"][i]),
                }
                for name in [*method_names, *scores.reference_names]
            },
            "note": scores.notes[i],
        })

    preprocessing = dict(info.get("preprocessing") or {})
    preprocessing["assumed"] = info.get("preprocessing_source") == "assumed"
    evaluation_counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=2)
    split = data.split(config.split)
    counts = {name: len(s) for name, s in data.splits.items()}
    split_labels = np.asarray(split.labels)
    document = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": _datetime.datetime.now(_datetime.timezone.utc).isoformat(timespec="seconds"),
        "title": config.title,
        "summary": None,
        "model": {
            "name": config.model_name,
            "architecture": info.get("architecture", "resnet18"),
            "recipe": info.get("recipe"),
            "weights": info.get("weights"),
            "checkpoint": {"path": info.get("path"), "sha256": info.get("sha256"), "format": info.get("format")},
            "preprocessing": preprocessing,
            "training": _plain(info.get("training")),
            "history": _plain(info.get("history")),
            "val_accuracy": evaluation.get("accuracy"),
            "evaluation": _plain(evaluation),
            "stored_evaluation": _plain(info.get("evaluation")),
        },
        "data": {
            "source": data.source,
            "data_dir": str(config.data_dir) if config.data_dir else "embedded synthetic PCam-format set",
            "fingerprint": data.fingerprint,
            "split": config.split,
            "counts": counts,
            "class_balance": {config.split: {"0": int((split_labels == 0).sum()), "1": int((split_labels == 1).sum())}},
            "has_masks": bool(split.has_masks),
            "selection": {
                "n": len(patch_indices),
                "description": selection_description,
                "strata": {s: strata.count(s) for s in ("TP", "TN", "FP", "FN")},
                "explained_label_counts": {"0": int(evaluation_counts[0]), "1": int(evaluation_counts[1])},
            },
        },
        "settings": {
            "target": config.target,
            "target_description": "the class the model predicts on the clean image (top-1)"
            if config.target == "predicted" else "the ground-truth label",
            "score": "softmax probability of the tracked class",
            "steps": config.steps,
            "substrates": {"deletion": config.deletion_substrate, "insertion": config.insertion_substrate},
            "dataset_mean": [float(v) for v in dataset_mean],
            "tie_break": TIE_BREAK_RULE,
            "seed": seed,
            "precision": config.precision,
            "batch_size": config.batch_size,
            "methods": method_names,
        },
        "methods": method_sections,
        "baselines": baselines,
        "significance": significance,
        "substrate_rankings": substrate_rankings,
        "substrate_aucs": substrate_aucs,
        "agreement": _plain({k: v for k, v in scores.agreement.items() if k != "per_image"}),
        "localisation": localisation,
        "sanity": _plain(_sanity_section(scores.sanity)),
        "images": images,
        "provenance": {
            "command_line": command_line,
            "config": config.to_dict(),
            "seed": seed,
            "versions": package_versions(),
            "checkpoint_sha256": info.get("sha256"),
            "data_fingerprint": data.fingerprint,
            "patch_ids": [f"{config.split}:{int(p)}" for p in patch_indices],
            "machine": machine_description(device),
            "timings": dict(timings),
            "forward_passes": {"curves": scores.curve_forward_passes},
            "metric_notes": list(METRIC_NOTES),
            "reportgen_version": __version__,
        },
        "comparison": None,
        "gates": None,
    }
    return _plain(document)


