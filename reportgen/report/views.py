"""The shapes the template reads: frozen dataclasses of strings, lists of strings and smaller views.

Built by :func:`reportgen.report.context.build_context`; nothing here formats or
computes, so a template change never needs to look further than this file to
know what a field holds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfusionView:
    """Confusion matrix cells (rows: true class, columns: predicted class)."""

    tn: str
    fp: str
    fn: str
    tp: str


@dataclass(frozen=True)
class ModelCard:
    """Architecture, checkpoint, training and validation metrics of the explained model, in labels."""

    name: str
    rows: list[tuple[str, str]]
    preprocessing: list[tuple[str, str]]
    training: list[tuple[str, str]]
    has_training_record: bool
    metrics: list[tuple[str, str]]
    confusion: ConfusionView | None
    confusion_uri: str | None
    reliability_uri: str | None


@dataclass(frozen=True)
class WarningView:
    """One warning: its label in the summary list ("W1"), severity and text."""

    label: str
    severity: str
    text: str


@dataclass(frozen=True)
class AppendixTable:
    """One raw record: its title (with its report.json key) and (key, value) rows."""

    title: str
    rows: list[tuple[str, str]]


@dataclass(frozen=True)
class AppendixView:
    """Raw keys and values for the engineer: settings, training, versions, timings, the configuration."""

    tables: list[AppendixTable]
    history: list[dict[str, str]]
    metric_notes: list[str]
    patch_ids: list[str]
    config_json: str


@dataclass(frozen=True)
class DataView:
    """Where the patches came from and how they were chosen."""

    rows: list[tuple[str, str]]
    counts: list[tuple[str, str]]
    class_balance: list[tuple[str, str, str]]
    selection: str
    strata: list[tuple[str, str]]


@dataclass(frozen=True)
class MethodSettingsView:
    """One explanation method's settings and cost."""

    title: str
    reference: str
    rows: list[tuple[str, str]]
    cost: str
    #: Labels ("W3") of the summary's warnings about this method.
    warnings: list[str]


@dataclass(frozen=True)
class FaithfulnessRow:
    """Deletion/insertion AUC of one method or reference map."""

    title: str
    reference: str
    is_reference_map: bool
    deletion: str
    insertion: str
    srg: str
    against_random: str


@dataclass(frozen=True)
class VerdictRow:
    """One claim under the verdict rule: a method against a reference map or another method."""

    metric: str
    method: str
    against: str
    patches: int
    slides: str
    median_difference: str
    p_value: str
    p_holm: str
    outcome: str
    decided: bool


@dataclass(frozen=True)
class MatrixView:
    """Square matrix of formatted numbers with row/column titles, and its heatmap."""

    titles: list[str]
    rows: list[list[str]]
    uri: str


@dataclass(frozen=True)
class CheckRow:
    """One row of page one's check table; ``section`` is the anchor of its evidence."""

    outcome: str
    check: str
    condition: str
    measured: str
    section: str


@dataclass(frozen=True)
class SanityRow:
    """Similarity to the original maps after each randomisation stage (Adebayo et al., 2018).

    ``per_patch`` is the range of the per-patch final similarities and how many reach the
    threshold; ``final`` the mean with its 95 % interval; ``css`` the row's class
    (``pass``, ``fail`` or ``inconclusive``); a control row must fail.
    """

    title: str
    similarities: list[str]
    per_patch: str
    final: str
    outcome: str
    css: str
    control: bool


@dataclass(frozen=True)
class SanityView:
    """The model-randomisation sanity check: method rows, then the positive-control rows."""

    images: str
    stages: list[str]
    threshold: str
    interval: str
    rows: list[SanityRow]
    trustworthy: bool


@dataclass(frozen=True)
class LayerRowView:
    """One Grad-CAM layer of the stability table, scored like a method."""

    layer: str
    feature_map_size: str
    deletion: str
    insertion: str
    srg: str
    deletion_verdict: str
    insertion_verdict: str
    srg_verdict: str
    is_default: bool
    used: bool


@dataclass(frozen=True)
class SimilarityRow:
    """Two map sets of the same patches compared: mean Spearman and top-10 % IoU with intervals."""

    label: str
    spearman: str
    iou: str


@dataclass(frozen=True)
class StabilityView:
    """Stability of the explanations: plain sentences first, then the tables behind them."""

    findings: list[str]
    layer_rows: list[LayerRowView]
    layer_family: str
    lime: SimilarityRow | None
    lime_rule: str
    ig_pairs: list[SimilarityRow]
    ig_scores: list[tuple[str, str, str]]
    not_run: list[str]


@dataclass(frozen=True)
class Overlay:
    """One method's map over a patch, with that method's scores on this patch (formatted).

    ``scale`` labels the ends (and, for a signed map, the middle) of the colour bar ``bar_uri``
    under the map: ``["0", "0.0086"]`` or ``["-0.0043", "0", "+0.0043"]``.
    """

    title: str
    uri: str
    alt: str
    deletion: str
    insertion: str
    centre: str
    bar_uri: str = ""
    scale: tuple[str, ...] = ()


@dataclass(frozen=True)
class PatchPanel:
    """Everything shown for one explained patch; ``stratum``, ``slide`` and ``group`` (the heading of its
    stratum's group) serve the gallery's grouping and filters."""

    patch_id: str
    facts: list[tuple[str, str]]
    note: str
    original_uri: str
    original_alt: str
    overlays: list[Overlay]
    stratum: str = ""
    slide: str = ""
    group: str = ""


@dataclass(frozen=True)
class GalleryView:
    """The gallery's legend and filter choices: ``(value, label)`` per stratum and per slide present."""

    legend: list[str]
    sequential_bar_uri: str
    signed_bar_uri: str
    strata: list[tuple[str, str]]
    slides: list[tuple[str, str]]
    #: Which patches the gallery shows (all, or the first --gallery in its order).
    extent: str


@dataclass(frozen=True)
class ProvenanceView:
    """What is needed to reproduce the run (the rest is in the appendix)."""

    command_line: str
    seed: str
    reportgen_version: str
    checkpoint_sha256: str
    data_fingerprint: str


@dataclass(frozen=True)
class MethodChangeRow:
    """One method's AUCs now and in the previous report."""

    title: str
    status: str
    deletion_previous: str
    deletion_current: str
    deletion_change: str
    insertion_previous: str
    insertion_current: str
    insertion_change: str


@dataclass(frozen=True)
class ComparisonView:
    """Changes since the previous report."""

    previous: str
    note: str | None
    model: str
    accuracy: str
    methods: list[MethodChangeRow]
    #: (whose: a method's title or "Model", what, before, now, change)
    evidence: list[tuple[str, str, str, str, str]]
    uniform_centre: str
    shared_patches: str
    patches: list[tuple[str, str, str, str, str, str]]
    new_warnings: list[str]
    resolved_warnings: list[str]


@dataclass(frozen=True)
class GateView:
    """One gate's result."""

    expression: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class EvidenceView:
    """Right for the right reason: the region-removal test and where each method's attribution lies."""

    rule: str
    decision: str
    rows: list[tuple[str, str]]
    #: (method, centre share on TPs, mask share on TPs, periphery share on hard-negative tumour calls)
    methods: list[tuple[str, str, str, str]]
    uniform_centre: str
    uniform_periphery: str
    uniform_mask: str


@dataclass(frozen=True)
class SlideRow:
    """One slide: patches and accuracy on the split, explained and informative patches, each method's gain."""

    slide: str
    patches: str
    accuracy: str
    explained: str
    informative: str
    gains: list[str]


@dataclass(frozen=True)
class SlidesView:
    """Per slide, lowest accuracy first, and the worst slide of each method."""

    rule: str
    titles: list[str]
    rows: list[SlideRow]
    worst: list[str]


@dataclass(frozen=True)
class ReportContext:
    """All the template reads; every field is a string, a list of them, or a small view."""

    title: str
    generated_at: str
    identity: list[tuple[str, str]]
    synthetic_notice: str | None
    data_has_masks: bool
    sign_off: list[tuple[str, str]]
    checks: list[CheckRow]
    check_counts: str
    #: (term, what it means) for deletion, insertion and the reference maps, and one curve to show it.
    reading_guide: list[tuple[str, str]]
    guide_uri: str | None
    findings: list[str]
    warnings: list[WarningView]
    severities: list[tuple[str, str]]
    model: ModelCard
    data: DataView
    run_settings: list[tuple[str, str]]
    method_settings: list[MethodSettingsView]
    provenance: ProvenanceView
    faithfulness: list[FaithfulnessRow]
    deletion_curves_uri: str | None
    insertion_curves_uri: str | None
    verdicts: list[VerdictRow]
    #: The outcomes the verdict table's rows carry, in the order of :data:`OUTCOME_WORDS`, for its filter.
    verdict_outcomes: list[str]
    informative: list[tuple[str, str]]
    verdict_rule: str
    uncertainty: str
    substrate_drift: list[tuple[str, str, str, str]]
    substrate_rule: str
    substrate_rankings: list[tuple[str, str, str, str]]
    spearman: MatrixView | None
    iou: MatrixView | None
    localisation: list[tuple[str, str, str, str]]
    #: The share of a uniform map's attribution in the centre 32x32, as the prose states it.
    uniform_centre: str
    sanity: SanityView | None
    evidence: EvidenceView | None
    slides: SlidesView | None
    stability: StabilityView | None
    gallery: GalleryView
    stain: StainView | None
    patches: list[PatchPanel]
    #: Labels ("W3") of the summary's warnings about a method, pointed at from the maps.
    map_warnings: list[str]
    limitations: list[str]
    appendix: AppendixView
    comparison: ComparisonView | None
    gates: list[GateView] | None


@dataclass(frozen=True)
class StainConditionRow:
    """One stain condition: how strong it was and what it did to the model's decision."""

    title: str
    description: str
    rgb_change: str
    unchanged: str
    flip_rate: str
    probability_change: str
    abs_probability_change: str
    decision: str


@dataclass(frozen=True)
class StainMethodRow:
    """One method under one stain condition: its maps against the original maps, and its deletion verdict."""

    condition: str
    method: str
    spearman: str
    iou: str
    verdict: str
    #: "yes", "no", or why the rule does not apply; ``flagged`` when it is "yes".
    explains: str
    flagged: bool


@dataclass(frozen=True)
class ClassStainRow:
    """One class of the other-class stain test: its patches, median stain amounts, and what the donor's stain did."""

    label: str
    patches: str
    haematoxylin: str
    eosin: str


@dataclass(frozen=True)
class ClassStainView:
    """The other class's stain: per class rows, then the model's response over all the patches."""

    description: str
    classes: list[ClassStainRow]
    flip_rate: str
    toward_donor: str
    decision: str


@dataclass(frozen=True)
class StainView:
    """The stain robustness section: plain sentences first, then the tables and the rules behind them."""

    images: str
    findings: list[str]
    conditions: list[StainConditionRow]
    methods: list[StainMethodRow]
    rules: list[str]
    class_stain: ClassStainView | None = None
