"""Reading a finished report document: titles, the model's accuracy, verdicts and the metrics' names.

Every judgement module reads the document through these, so a key's meaning
is interpreted in one place.
"""

from __future__ import annotations

import dataclasses

from reportgen.data.files import PATCH_SIZE
from reportgen.judgement.rule import scaled_images
from reportgen.metrics.localisation import centre_slices
from reportgen.metrics.verdicts import CLAIM_METRICS
from reportgen.schema import Check as CheckRecord
from reportgen.schema import Interval, Rate, ReportDocument, ScoredMap, Share, Verdict

# Each claimed metric of the verdict rule (deletion and insertion: Petsiuk et al., RISE, BMVC 2018; SRG: Blücher
# et al., TMLR 2024) by its kind ("deletion", "insertion", "srg"): its key and which direction is better ...
DIRECTIONS = {key.removesuffix("_auc"): (key, "higher" if higher else "lower")
              for key, (_, higher) in CLAIM_METRICS.items()}
#: ... and whose informative patches it uses (SRG's two curves are deletion curves with deletion's ends).
INFORMATIVE_OF = {key.removesuffix("_auc"): mode for key, (mode, _) in CLAIM_METRICS.items()}
#: How a sentence names each metric, and the short name a table column uses.
METRIC_LABELS = {"deletion": "deletion AUC", "insertion": "insertion AUC", "srg": "SRG"}
SHORT_LABELS = {"deletion": "deletion", "insertion": "insertion", "srg": "SRG"}

#: Reference maps that ignore the model: a method not better than one of these is a headline finding.
MODEL_INDEPENDENT = ("centre_prior", "sobel")
#: How a sentence names each reference map.
REFERENCE_PHRASES = {"random": "the random map", "centre_prior": "the centre prior", "sobel": "the Sobel edge map"}
OUTCOME_WORDS = {"better": "better", "worse": "worse", "not_distinguishable": "not distinguishable",
                 "too_few": "too few informative patches to decide", "untested": "not tested"}
_FLIPPED = {"better": "worse", "worse": "better"}


def patch_size(document: ReportDocument) -> int:
    """Side of the report's patches in pixels (96, PCam's, in a report written before it was recorded)."""
    return document.data.patch_size or PATCH_SIZE


def centre_side(document: ReportDocument) -> int:
    """Side in pixels of the centre third of the report's patches (32 of 96: PCam's label region)."""
    rows, _ = centre_slices(patch_size(document), patch_size(document))
    return rows.stop - rows.start


def model_accuracy(document: ReportDocument) -> float | None:
    """Validation accuracy of the model: the evaluation's, else the checkpoint's ``val_accuracy`` (``None`` when
    neither is known; an earlier report read by ``--compare`` may lack its model card)."""
    model = document.model
    if model is None:
        return None
    value = (model.evaluation or {}).get("accuracy", model.val_accuracy)
    return None if value is None else float(value)


def method_title(document: ReportDocument, name: str) -> str:
    """Display title of a method or reference map, falling back to its registry name (also for an earlier
    report, whose ``methods`` or ``baselines`` may be missing)."""
    record = (document.methods or {}).get(name) or (document.baselines or {}).get(name)
    return str((record.title if record is not None else None) or name)


def find_verdict(document: ReportDocument, method: str, against: str, metric: str) -> Verdict | None:
    """The verdict record of ``method`` against ``against`` by ``metric``, from ``method``'s side.

    A record stored the other way round (method pairs are stored once) comes
    back as a copy with its outcome and median difference flipped.
    """
    for record in document.verdicts or []:
        if record.metric != metric:
            continue
        if (record.method, record.against) == (method, against):
            return record
        if (record.method, record.against) == (against, method):
            flipped = dataclasses.replace(record, method=method, against=against,
                                          outcome=_FLIPPED.get(record.outcome, record.outcome))
            if record.median_difference is not None:
                flipped.median_difference = -record.median_difference
                flipped.ci95 = [None if v is None else -v for v in reversed(record.ci95 or [None, None])]
            return flipped
    return None


def page_one_rows(document: ReportDocument, section: str) -> list[CheckRecord]:
    """The stored page-one rows (``summary.checks``) whose evidence is in ``section`` (an anchor): what a section
    says of its outcome, decided once (none before the summary is made)."""
    if document.summary is None:
        return []
    return [row for row in document.summary.checks if row.section == section]


def explained_count(document: ReportDocument) -> int:
    """How many patches the report explained (``--images``)."""
    return len(document.images) or int(document.data.selection.n)


def explained_units(document: ReportDocument, record: Interval | None = None) -> tuple[int, str]:
    """(units, noun) an interval over the explained patches rests on: their slides where slide ids exist, else
    the patches with a finite value in ``record.per_image`` (all explained patches without a record)."""
    uncertainty = document.settings.uncertainty
    if uncertainty.unit == "slide" and uncertainty.slides:
        return int(uncertainty.slides), "slides"
    values = None if record is None else record.per_image
    count = explained_count(document) if values is None else sum(1 for v in values if v is not None)
    return count, "patches"


def rate_units(record: Rate | None, fallback: int = 0) -> tuple[int, str]:
    """(units, noun) of an interval over the model's own decisions (a rate record with ``n`` and ``slides``):
    its slides where it counts them, else its patches (``n``, else ``fallback``)."""
    if record is not None and record.slides:
        return int(record.slides), "slides"
    if record is not None and record.n:
        return int(record.n), "patches"
    return fallback, "patches"


def more_evaluated(noun: str):
    """``k -> text``: what gives about ``k`` units to a check that already runs on every evaluated patch."""
    return lambda k: f"about {k} {noun}: a larger evaluation split"


def more_images(document: ReportDocument, units: int):
    """``k -> "explain about M patches: --images M"``: what gives about ``k`` units where this run's
    explained patches gave ``units`` (:func:`reportgen.judgement.rule.scaled_images`)."""
    images = explained_count(document)

    def more(k: int) -> str:
        wanted = scaled_images(images, units, k)
        return f"explain about {wanted} patches: --images {wanted}"
    return more


def headline_mean(record: ScoredMap, key: str) -> Interval:
    """A map's mean of ``key`` (``deletion_auc``, ``insertion_auc`` or ``srg``) over the informative patches (mean
    ``None`` when no patch is informative)."""
    return getattr(record.informative, key)


def unit_noun(verdict: Verdict) -> str:
    """What a claim's test counted: "slides with informative patches" or "informative patches"."""
    return "slides with informative patches" if verdict.unit == "slide" else "informative patches"


def loses_to_random(document: ReportDocument, name: str) -> list[str]:
    """The metrics ("deletion", "insertion", "srg") on which method ``name`` is not better than the random map."""
    lost = []
    for kind, (key, _) in DIRECTIONS.items():
        verdict = find_verdict(document, name, "random", key)
        if verdict is not None and verdict.outcome != "better":
            lost.append(kind)
    return lost


def share(record: Interval | Share | Rate | None) -> str:
    """An interval record's mean to two decimals, or n/a."""
    mean = None if record is None else record.mean
    return "n/a" if mean is None else f"{float(mean):.2f}"
