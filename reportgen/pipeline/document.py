"""The one producer of the report document (report.json), from what a build computed.

Everything the report shows is assembled here, summary, comparison with a
previous report and gates included, before anything is rendered; the
templates read only this document (plus the patch images and display maps).
The input is :class:`BuildRecord`, plain arrays and values, so a document can
be produced from small arrays without a model (the gold fixture does that).
The schema is :mod:`reportgen.schema`.
"""

from __future__ import annotations

import datetime as _datetime
import itertools
from dataclasses import dataclass

import numpy as np

from reportgen.config import DOCUMENT_TABLES, BuildConfig
from reportgen.data.files import PATCH_SIZE
from reportgen.data.label_region import CENTRE, applies
from reportgen.data.sampling import STRATA
from reportgen.judgement import (
    Gate,
    all_checks,
    compare_reports,
    evaluate_gates,
    page_one,
    sections,
    summarise_findings,
)
from reportgen.judgement.notes import patch_note
from reportgen.metrics.faithfulness import MODES
from reportgen.metrics.references import REFERENCE_TITLES
from reportgen.metrics.sanity import INTERVAL_METHOD as SANITY_INTERVAL
from reportgen.metrics.stats import mean_with_interval, plain_float
from reportgen.metrics.substrate_scope import SCOPE_FRACTIONS
from reportgen.metrics.verdicts import (
    CLAIM_METRICS,
    MIN_SCORE_CHANGE,
    decide_report_claims,
    informative_means,
    informative_patches,
)
from reportgen.pipeline.document_facts import (
    INFORMATIVE_RULE,
    SCOPE_RULE,
    data_record,
    model_record,
    provenance_record,
    settings_record,
)
from reportgen.pipeline.evidence import EvidenceOutcome, evidence_section
from reportgen.pipeline.explain import MethodResult
from reportgen.pipeline.model_checks import ModelCheckOutcome
from reportgen.pipeline.sanity import SanityOutcome
from reportgen.pipeline.score import Scores
from reportgen.pipeline.selection import Selection, patch_id
from reportgen.pipeline.slide_section import slide_section
from reportgen.pipeline.stability import StabilityOutcome
from reportgen.pipeline.stability_section import stability_section
from reportgen.pipeline.stain import StainOutcome
from reportgen.pipeline.stain_section import stain_section
from reportgen.schema import SCHEMA_VERSION, ReportDocument, Summary


@dataclass(frozen=True)
class DataFacts:
    """What the report says about the data (from :class:`reportgen.data.PCamDataset`).

    ``split_label_counts`` : label -> patches of that label in the explained split.
    ``label_region`` : the region that decides the labels (:mod:`reportgen.data.label_region`).
    ``patch_size`` : side of the square patches in pixels.
    """

    source: str
    data_dir: str | None
    fingerprint: str
    counts: dict[str, int]
    split_label_counts: dict[str, int]
    has_masks: bool
    label_region: str = CENTRE
    patch_size: int = PATCH_SIZE


@dataclass
class BuildRecord:
    """Everything a build computed, as arrays and plain values: the producer's input.

    Attributes
    ----------
    config, command_line : the resolved configuration and how it was asked for.
    data : :class:`DataFacts`.
    model_info : the loaded model's ``info`` (path, sha256, format, recipe, training, history, ...).
    evaluation : model-card metrics on the evaluated patches.
    selection : the explained patches, what the model said of them and how they were chosen
        (:class:`reportgen.pipeline.selection.Selection`).
    methods : name -> maps and costs; scores : curves, agreement, localisation.
    sanity : name -> randomisation outcome, or ``None`` when skipped.
    sanity_controls : control name (a reference map) -> its outcome through the same cascade, or ``None``.
    dataset_mean : (r, g, b) of the ``mean`` substrate.
    machine, versions, timings : what computed it, and how long each stage took.
    stability : the stability measurements (:mod:`reportgen.pipeline.stability`), or ``None`` when none ran.
    slide_accuracy : per-slide accuracy on the evaluated split (:func:`reportgen.metrics.slides.per_slide_accuracy`),
        or None without slide ids.
    evidence : where the model's tumour calls and the maps' attribution lie (:mod:`reportgen.pipeline.evidence`),
        or ``None`` when not measured.
    images : (N, H, W, 3) uint8 explained patches, or ``None``; masks : (N, H, W) uint8 tumour masks, or ``None``.
        The patch notes read both (:mod:`reportgen.judgement.notes`).
    stain : the stain robustness measurements (:mod:`reportgen.pipeline.stain`), or ``None`` when skipped.
    model_checks : the model-level checks on every evaluated patch (:mod:`reportgen.pipeline.model_checks`),
        which decide the evidence test and the stain section's model rules; ``None`` only without either section.
    """

    config: BuildConfig
    command_line: str
    data: DataFacts
    model_info: dict
    evaluation: dict
    selection: Selection
    methods: dict[str, MethodResult]
    scores: Scores
    sanity: dict[str, SanityOutcome] | None
    sanity_controls: dict[str, SanityOutcome] | None
    dataset_mean: tuple[float, float, float]
    machine: dict
    versions: dict
    timings: dict[str, float]
    stability: StabilityOutcome | None = None
    evidence: EvidenceOutcome | None = None
    slide_accuracy: dict[str, dict] | None = None
    images: np.ndarray | None = None
    masks: np.ndarray | None = None
    stain: StainOutcome | None = None
    model_checks: ModelCheckOutcome | None = None


def plain(value):
    """Numpy scalars and arrays to JSON-safe Python values (non-finite floats become None)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return plain_float(value)
    return value


def _groups(record: BuildRecord, mask: np.ndarray | None = None) -> np.ndarray | None:
    """(N,) or (mask.sum(),) slide ids, the unit of intervals and tests; ``None`` without slide ids."""
    if record.selection.slide_ids is None:
        return None
    slides = np.asarray([str(s) for s in record.selection.slide_ids], dtype=object)
    return slides if mask is None else slides[mask]


def _scored(record: BuildRecord, curves, informative: dict[str, np.ndarray]) -> dict:
    seed = record.config.seed
    groups = _groups(record)
    return {
        **{metric: mean_with_interval(getattr(curves, metric), seed=seed, groups=groups)
           for metric in (*CLAIM_METRICS, "lif_auc")},
        "informative": informative_means(curves, informative, seed=seed, groups=groups),
        "curves": {"deletion_mean": [float(v) for v in np.nanmean(curves.deletion, axis=0)],
                   "insertion_mean": [float(v) for v in np.nanmean(curves.insertion, axis=0)],
                   "lif_mean": [float(v) for v in np.nanmean(curves.least_first, axis=0)]},
    }


def _slides(record: BuildRecord, masks: dict[str, np.ndarray]) -> dict | None:
    """The per-slide record (:func:`reportgen.pipeline.slide_section.slide_section`), or None without slide ids."""
    random = record.scores.curves.get("random")
    if random is None:
        return None
    return slide_section(
        split_accuracy=record.slide_accuracy, slide_ids=record.selection.slide_ids, informative=masks["deletion"],
        deletion_auc={name: record.scores.curves[name].deletion_auc for name in record.methods},
        random_deletion_auc=random.deletion_auc,
        centre_mass={name: record.scores.localisation[name]["centre_mass"] for name in record.methods
                     if name in record.scores.localisation})


def _informative_masks(record: BuildRecord) -> dict[str, np.ndarray]:
    """mode -> (N,) bool; the curves' ends are those of the clean and substituted image, the same for every map."""
    curves = record.scores.curves[record.scores.reference_names[0] if record.scores.reference_names
                                  else next(iter(record.scores.curves))]
    return {mode: informative_patches(getattr(curves, mode), mode) for mode in MODES}


def _informative_section(record: BuildRecord, masks: dict[str, np.ndarray]) -> dict:
    ids = record.selection.patch_ids
    section = {"rule": INFORMATIVE_RULE, "min_change": MIN_SCORE_CHANGE}
    for mode, mask in masks.items():
        section[mode] = {
            "count": int(mask.sum()), "of": len(mask),
            "by_stratum": {s: sum(1 for stratum, used in zip(record.selection.strata, mask) if used and stratum == s)
                           for s in STRATA},
            "uninformative": [patch for patch, used in zip(ids, mask) if not used],
        }
    return section


def _verdicts(record: BuildRecord, masks: dict[str, np.ndarray]) -> list[dict]:
    """Every claim of the report: each method against each reference map and against each other method."""
    curves, methods = record.scores.curves, list(record.methods)
    claims = []
    for metric, (mode, higher_is_better) in CLAIM_METRICS.items():
        mask = masks[mode]
        pairs = [(m, r) for m in methods for r in record.scores.reference_names]
        pairs += list(itertools.combinations(methods, 2))
        for method, against in pairs:
            claims.append({"method": method, "against": against, "metric": metric,
                           "higher_is_better": higher_is_better, "patches": np.flatnonzero(mask),
                           "groups": _groups(record, mask),
                           "values": getattr(curves[method], metric)[mask],
                           "against_values": getattr(curves[against], metric)[mask]})
    return decide_report_claims(claims, alpha=record.config.alpha, seed=record.config.seed)


def _method_sections(record: BuildRecord, masks: dict[str, np.ndarray]) -> dict:
    seed = record.config.seed
    sections = {}
    for name, result in record.methods.items():
        entry = {"title": result.title, **_scored(record, record.scores.curves[name], masks)}
        entry.update(
            reference=result.reference, settings=result.settings, seconds=result.seconds,
            forward_passes=result.forward_passes, backward_passes=result.backward_passes,
            cached_patches=result.cached, warnings=list(result.warnings), signed=result.signed,
            extras={key: mean_with_interval(values, seed=seed, groups=_groups(record))
                    for key, values in result.extras.items()},
        )
        sections[name] = entry
    return sections


def _ranking(aucs: dict[str, np.ndarray], *, lower_is_better: bool) -> list[str]:
    means = {name: float(np.nanmean(values)) for name, values in aucs.items()}
    return sorted(means, key=lambda name: means[name] if lower_is_better else -means[name])


def _substrates(record: BuildRecord) -> tuple[dict | None, dict | None]:
    by_substrate = record.scores.substrate_aucs
    rankings = {substrate: {mode: _ranking({n: v for n, v in by_name.items() if n in record.methods},
                                           lower_is_better=(mode == "deletion"))
                            for mode, by_name in by_mode.items()}
                for substrate, by_mode in by_substrate.items()}
    means = {substrate: {mode: {name: plain_float(np.nanmean(values)) for name, values in by_name.items()}
                         for mode, by_name in by_mode.items()}
             for substrate, by_mode in by_substrate.items()}
    return rankings or None, means or None


def _substrate_scope(record: BuildRecord) -> dict | None:
    """Each substrate's drift (mean over patches, interval) and share of changed top-1 classes."""
    if not record.scores.substrate_drift:
        return None
    config, substrates = record.config, {}
    for substrate, (drift, flipped) in record.scores.substrate_drift.items():
        substrates[substrate] = {
            "drift": mean_with_interval(drift.mean(axis=1), seed=config.seed, groups=_groups(record)),
            "top1_changed": float(flipped.mean()) if flipped.size else None,
            "used_for": [mode for mode in MODES if getattr(config, f"{mode}_substrate") == substrate],
        }
    means = {name: entry["drift"]["mean"] for name, entry in substrates.items() if entry["drift"]["mean"] is not None}
    return {"fractions": list(SCOPE_FRACTIONS), "rule": SCOPE_RULE, "substrates": substrates,
            "least_drift": min(means, key=means.get) if means else None}


def _sanity_record(outcome: SanityOutcome) -> dict:
    return {"stages": outcome.stages, "similarity": [float(v) for v in outcome.similarity],
            "final": float(outcome.similarity[-1]), "per_image_final": [float(v) for v in outcome.per_image[-1]],
            "threshold": outcome.threshold, "ci95": [plain_float(v) for v in outcome.ci95],
            "outcome": outcome.outcome, "passed": outcome.passed}


def _sanity(record: BuildRecord) -> dict | None:
    if record.sanity is None:
        return None
    methods = {name: _sanity_record(outcome) for name, outcome in record.sanity.items()}
    controls = {name: _sanity_record(outcome) for name, outcome in (record.sanity_controls or {}).items()}
    first = next(iter(record.sanity.values()), None)
    # The patches the cascade ran on (how many is decided once, by reportgen.pipeline.selection.leading_patches).
    stages, images = (first.stages, first.per_image.shape[1]) if first is not None else (None, 0)
    # Trust needs a control to have run and every control to have failed, as a model-independent map must.
    trustworthy = bool(controls) and all(control["outcome"] == "failed" for control in controls.values())
    return {"images": images, "stages": stages, "interval": SANITY_INTERVAL, "methods": methods,
            "controls": controls, "trustworthy": trustworthy}


def _note(record: BuildRecord, i: int) -> str:
    methods = record.methods
    return patch_note({name: result.maps[i] for name, result in methods.items()},
                      titles={name: result.title for name, result in methods.items()},
                      signed={name for name, result in methods.items() if result.signed},
                      stratum=record.selection.strata[i], target=int(record.selection.targets[i]),
                      mask=None if record.masks is None else record.masks[i],
                      image=None if record.images is None else record.images[i],
                      centre_decides=applies(record.data.label_region))


def _images(record: BuildRecord) -> list[dict]:
    names = [*record.methods, *record.scores.reference_names]
    curves, localisation = record.scores.curves, record.scores.localisation
    images = []
    for i, patch in enumerate(record.selection.indices):
        images.append({
            "patch_id": patch_id(record.selection.split, patch),
            "index": int(patch),
            "label": int(record.selection.labels[i]),
            "prediction": int(record.selection.predictions[i]),
            "probability": float(record.selection.probabilities[i].max()),
            "tumour_probability": float(record.selection.probabilities[i][1]),
            "target": int(record.selection.targets[i]),
            "stratum": record.selection.strata[i],
            "slide_id": None if record.selection.slide_ids is None else str(record.selection.slide_ids[i]),
            "per_method": {name: {"deletion_auc": plain_float(curves[name].deletion_auc[i]),
                                  "insertion_auc": plain_float(curves[name].insertion_auc[i]),
                                  "lif_auc": plain_float(curves[name].lif_auc[i]),
                                  "srg": plain_float(curves[name].srg[i]),
                                  "centre_mass": plain_float(localisation[name]["centre_mass"][i])}
                           for name in names},
            "note": _note(record, i),
        })
    return images


def assemble_document(record: BuildRecord, *, previous: dict | None = None, gates: list[Gate] = (),
                      generated_at: str | None = None) -> ReportDocument:
    """The complete report document; see :mod:`reportgen.schema` for every key.

    Parameters
    ----------
    record : what the build computed.
    previous : an earlier report.json to compare with (``--compare``), or ``None``.
    gates : parsed ``--fail-if`` gates, evaluated on the finished document.
    generated_at : ISO time stamp; default now (UTC).
    """
    seed = record.config.seed
    masks = _informative_masks(record)
    verdicts = _verdicts(record, masks)
    baselines = {name: {"title": REFERENCE_TITLES.get(name, name), **_scored(record, record.scores.curves[name], masks)}
                 for name in record.scores.reference_names}
    substrate_rankings, substrate_aucs = _substrates(record)
    localisation = {name: {key: None if values is None else mean_with_interval(values, seed=seed,
                                                                               groups=_groups(record))
                           for key, values in entry.items()}
                    for name, entry in record.scores.localisation.items()}
    document = plain({
        "schema_version": SCHEMA_VERSION,
        "generated_at": generated_at or _datetime.datetime.now(_datetime.timezone.utc).isoformat(timespec="seconds"),
        "title": record.config.title,
        "summary": None,
        "model": model_record(record),
        "data": data_record(record),
        "settings": settings_record(record),
        "methods": _method_sections(record, masks),
        "baselines": baselines,
        "informative": _informative_section(record, masks),
        "verdicts": verdicts,
        "substrate_scope": _substrate_scope(record),
        "substrate_rankings": substrate_rankings,
        "substrate_aucs": substrate_aucs,
        "agreement": {k: v for k, v in record.scores.agreement.items() if k != "per_image"},
        "localisation": localisation,
        "sanity": _sanity(record),
        "stability": stability_section(record.stability, random_curves=record.scores.curves.get("random"),
                                       masks=masks, groups=_groups(record), report_verdicts=verdicts,
                                       alpha=record.config.alpha, seed=seed),
        "evidence": None if record.evidence is None else evidence_section(
            record.evidence, strata=list(record.selection.strata), slide_ids=_groups(record), seed=seed,
            model=record.model_checks),
        "slides": _slides(record, masks),
        "stain_robustness": stain_section(
            record.stain, original_deletion={name: curves.deletion for name, curves in record.scores.curves.items()},
            methods=list(record.methods), patch_ids=record.selection.patch_ids,
            groups=_groups(record), alpha=record.config.alpha, seed=seed, model=record.model_checks),
        "images": _images(record),
        "provenance": provenance_record(record),
        "sign_off": {key: record.config.sign_off.get(key) for key in DOCUMENT_TABLES["sign_off"]},
        "comparison": None,
        "gates": None,
    })
    for section in sections():
        if section.record is not None:  # a section that makes its own record from the build's results
            document[section.key] = plain(section.record(record))
    document = ReportDocument.from_json(document)
    checks = all_checks(document)
    summary = summarise_findings(document, checks)
    document.summary = Summary.from_json(summary)
    if previous is not None:
        document.comparison = compare_reports(document, previous)
    document.gates = evaluate_gates(list(gates), document, checks) if gates else None
    # Page one's checks include the gates'.
    document.summary = Summary.from_json({**summary, **page_one(checks, document.gates)})
    return document
