"""The records of the maps' scores: faithfulness (deletion, insertion, SRG) with its verdicts and informative
patches, the substrates the curves replace pixels with, agreement and localisation.

:class:`Interval`, :class:`MeanCurves` and :class:`InformativeMeans` are the shapes used under many keys of the
document (docs/report-json.md lists them once, under the key table).
"""

from __future__ import annotations

from typing import Any

from reportgen.schema.record import Record, record


@record
class Interval(Record):
    """A per-patch metric: its mean, percentile-bootstrap 95 % interval (resampling the unit of
    ``settings.uncertainty``) and every patch's value (``None``: not finite)."""

    mean: float | None
    ci95: list[float | None]
    per_image: list[float | None]


@record
class MeanCurves(Record):
    """Mean deletion, insertion and least-relevant-first deletion curves over the patches, steps + 1 points each."""

    deletion_mean: list[float]
    insertion_mean: list[float]
    lif_mean: list[float]


@record
class InformativeMeans(Record):
    """The headline means: deletion AUC, insertion AUC and SRG over each metric's informative patches
    (SRG over deletion's)."""

    deletion_auc: Interval
    insertion_auc: Interval
    srg: Interval


@record
class ScoredMap(Record):
    """A map set scored by deletion, insertion, least-relevant-first deletion (LIF) and the symmetric relevance
    gain SRG = AUC(LIF) - AUC(deletion), over all patches and over the informative ones."""

    title: str
    deletion_auc: Interval
    insertion_auc: Interval
    lif_auc: Interval
    srg: Interval
    informative: InformativeMeans
    curves: MeanCurves


@record
class MethodSection(ScoredMap):
    """An explanation method: its scores, what it cost and how it was configured."""

    reference: str
    settings: dict[str, Any]
    seconds: float
    forward_passes: int
    backward_passes: int
    cached_patches: int
    warnings: list[str]
    signed: bool
    extras: dict[str, Interval]


@record
class Verdict(Record):
    """One claim under the verdict rule (:mod:`reportgen.metrics.verdicts`), in its ``family`` ("primary" or
    "secondary") tested at ``level``; ``differences`` are the unit values the test ran on (one per slide where
    slide ids exist), positive when ``method`` is better than ``against``; ``p`` is two-sided."""

    method: str
    against: str
    metric: str
    family: str | None
    level: float
    unit: str
    patches: list[int]
    slides: int | None
    n: int
    needed: int
    outcome: str
    p: float | None
    p_holm: float | None
    differences: list[float | None]
    median_difference: float | None
    ci95: list[float | None]
    detectable_difference: float | None
    patches_for_target: int | None


@record
class InformativeCount(Record):
    """How many patches can tell maps apart for one metric, per stratum, and which cannot."""

    count: int
    of: int
    by_stratum: dict[str, int]
    uninformative: list[str]


@record
class Informative(Record):
    """The informative-patch rule and its counts per metric."""

    rule: str
    min_change: float
    deletion: InformativeCount
    insertion: InformativeCount



@record
class SubstrateDrift(Record):
    """One substrate: its drift per patch (mean |change| of the tracked-class probability over the fractions), the
    share of (patch, fraction) pairs whose top-1 class changed, and the curves that use it."""

    drift: Interval
    top1_changed: float | None
    used_for: list[str]


@record
class SubstrateScope(Record):
    """How far each substrate takes a patch out of the model's scope when random pixels are replaced."""

    fractions: list[float]
    rule: str
    substrates: dict[str, SubstrateDrift]
    least_drift: str | None


@record
class Agreement(Record):
    """Mean pairwise agreement of the methods' maps (M x M matrices in ``methods`` order)."""

    methods: list[str]
    spearman: list[list[float | None]]
    iou_top10: list[list[float | None]]


@record
class Localisation(Record):
    """Where a map puts its attribution; the mask metrics are ``None`` without masks."""

    centre_mass: Interval
    pointing_game: Interval | None
    mass_in_mask: Interval | None

