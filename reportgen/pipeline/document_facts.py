"""The document's facts about the run: its model, data, settings and provenance, and the sentences in which
it states its rules (:func:`reportgen.pipeline.document.assemble_document` puts them in their sections)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reportgen import __version__
from reportgen.config import DOCUMENT_TABLES, BuildConfig
from reportgen.data.sampling import STRATA
from reportgen.metrics.faithfulness import NOTEBOOK_DELETION_NOTE, TIE_BREAK_RULE
from reportgen.metrics.verdicts import MIN_SCORE_CHANGE
from reportgen.model.architectures import DEFAULT_ARCH

if TYPE_CHECKING:
    from reportgen.pipeline.document import BuildRecord

METRIC_NOTES = (
    "Deletion: pixels are replaced by the deletion substrate in order of attribution, highest first; "
    "the curve is the softmax probability of the tracked class; lower area is better.",
    "Insertion: pixels are restored from the image onto the insertion substrate in the same order; "
    "higher area is better.",
    "Least-relevant-first deletion (LIF): pixels are replaced by the deletion substrate in order of attribution, "
    "lowest first (ties broken as above); higher area is better. Symmetric relevance gain SRG = AUC(LIF) - "
    "AUC(deletion) (Blücher, Vielhaben and Strodthoff, TMLR 2024); higher is better, about 0 for a map that "
    "ignores the model, and less dependent on the substrate than either curve.",
    "Area under each curve: trapezoid over the fraction of pixels changed, x in [0, 1]; "
    "intervals are percentile-bootstrap 95% intervals of the mean (over slides where slide ids exist).",
    NOTEBOOK_DELETION_NOTE,
    "Verdicts: on the informative patches of a metric, the paired per-patch differences between two maps "
    "(averaged per slide where slide ids exist, so that the unit is the slide) are tested with the two-sided "
    "Wilcoxon signed-rank test (zero differences dropped), Holm-corrected within the claim's family: the primary "
    "family (each method against the random map by deletion AUC and SRG, the claims page one rests on, fixed "
    "before any result) at 0.8 alpha, the secondary family at 0.2 alpha, or at alpha once every primary claim is "
    "decided; better or worse when the corrected p is below the family's level, otherwise not distinguishable, "
    "or too few when the smallest p the exact test can give on the claim's non-zero differences, 2^(1 - n), "
    "cannot reach level / m for a family of m claims.",
)

UNCERTAINTY_RULES = {
    "slide": "Patches of one slide share its stain, scanner and tissue, so they are not independent: every interval "
             "resamples whole slides (cluster bootstrap), and every verdict tests one value per slide, the mean of "
             "its patches' paired differences.",
    "patch": "The data carry no slide ids: intervals and tests assume the patches are independent, which is "
             "optimistic where several come from one slide.",
}

SCOPE_RULE = (
    "Drift of a substrate: the mean change of the tracked-class probability when a random 10 %, 20 % and 30 % of a "
    "patch's pixels are replaced by it. So few scattered pixels leave every structure of the tissue most of its "
    "pixels, so a large change means the substrate's own pattern moves the model: its curves measure the substrate "
    "as much as the map (the out-of-model-scope problem of Blücher, Vielhaben and Strodthoff, TMLR 2024; this is a "
    "simple measure of it, not their R-OMS score)."
)

INFORMATIVE_RULE = (
    f"A patch is informative for deletion when replacing every pixel by the deletion substrate lowers the "
    f"tracked-class probability by at least {MIN_SCORE_CHANGE}, and for insertion when restoring every pixel onto "
    f"the insertion substrate raises it by at least {MIN_SCORE_CHANGE}: on other patches every ordering of the pixels "
    f"gives nearly the same curve, so they cannot tell maps apart. Verdicts and headline means use informative "
    f"patches only."
)
TARGET_DESCRIPTIONS = {"predicted": "the class the model predicts on the clean image (top-1)",
                       "label": "the ground-truth label"}


def uncertainty(record: BuildRecord) -> dict:
    """Which unit intervals and tests resample, and how many of them the explained patches give."""
    if record.selection.slide_ids is None:
        return {"unit": "patch", "slides": None, "rule": UNCERTAINTY_RULES["patch"]}
    return {"unit": "slide", "slides": len(set(map(str, record.selection.slide_ids))),
            "rule": UNCERTAINTY_RULES["slide"]}


def model_record(record: BuildRecord) -> dict:
    info, config = record.model_info, record.config
    preprocessing = dict(info.get("preprocessing") or {})
    preprocessing["assumed"] = info.get("preprocessing_source") == "assumed"
    architecture = info.get("architecture", DEFAULT_ARCH)
    name = config.model_name
    if name == BuildConfig.model_name and architecture != DEFAULT_ARCH:
        name = f"{architecture} (PatchCamelyon)"  # the default name says ResNet-18: not this model's
    return {
        "name": name,
        "architecture": architecture,
        "recipe": info.get("recipe"),
        "weights": info.get("weights"),
        "checkpoint": {"path": info.get("path"), "sha256": info.get("sha256"), "format": info.get("format"),
                       "key_prefix": info.get("key_prefix")},
        "preprocessing": preprocessing,
        "training": info.get("training"),
        "history": info.get("history"),
        "val_accuracy": record.evaluation.get("accuracy"),
        "evaluation": record.evaluation,
        "stored_evaluation": info.get("evaluation"),
        "card": {key: config.model_card.get(key) for key in DOCUMENT_TABLES["model_card"]},
    }


def data_record(record: BuildRecord) -> dict:
    config, facts = record.config, record.data
    explained = np.bincount(np.asarray(record.selection.labels, dtype=np.int64), minlength=2)
    return {
        "source": facts.source,
        "data_dir": str(facts.data_dir) if facts.data_dir else "embedded synthetic PCam-format set",
        "fingerprint": facts.fingerprint,
        "split": config.split,
        "counts": dict(facts.counts),
        "class_balance": {config.split: dict(facts.split_label_counts)},
        "has_masks": facts.has_masks,
        "label_region": facts.label_region,
        "patch_size": facts.patch_size,
        "selection": {
            "n": len(record.selection),
            "description": record.selection.description,
            "strata": {s: record.selection.strata.count(s) for s in STRATA},
            "explained_label_counts": {"0": int(explained[0]), "1": int(explained[1])},
        },
    }


def settings_record(record: BuildRecord) -> dict:
    config = record.config
    return {
        "target": config.target,
        "target_description": TARGET_DESCRIPTIONS[config.target],
        "score": "softmax probability of the tracked class",
        "steps": config.steps,
        "substrates": {"deletion": config.deletion_substrate, "insertion": config.insertion_substrate},
        "dataset_mean": [float(v) for v in record.dataset_mean],
        "tie_break": TIE_BREAK_RULE,
        "seed": config.seed,
        "precision": config.precision,
        "batch_size": config.batch_size,
        "methods": list(record.methods),
        "alpha": config.alpha,
        "gallery": config.gallery,
        "uncertainty": uncertainty(record),
    }


def provenance_record(record: BuildRecord) -> dict:
    config = record.config
    return {
        "command_line": record.command_line,
        "config": config.to_dict(),
        "seed": config.seed,
        "versions": record.versions,
        "checkpoint_sha256": record.model_info.get("sha256"),
        "data_fingerprint": record.data.fingerprint,
        "patch_ids": record.selection.patch_ids,
        "machine": record.machine,
        "timings": dict(record.timings),
        "forward_passes": {"curves": record.scores.curve_forward_passes},
        "metric_notes": list(METRIC_NOTES),
        "reportgen_version": __version__,
    }
