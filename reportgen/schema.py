"""The schema of ``report.json``: every section a typed dict, every key documented once.

:func:`reportgen.pipeline.document.assemble_document` is the one producer of a
document; the templates, ``--compare`` and ``--fail-if`` read it.  The
key table of docs/report-json.md is :func:`readme_table` (a test keeps the two equal, and a
test checks a real build's keys against these types).  ``SCHEMA_VERSION``
changes when a key changes meaning.
"""

from __future__ import annotations

from typing import Any, TypedDict, get_type_hints

SCHEMA_VERSION = 1


class Interval(TypedDict):
    """A per-patch metric: its mean, percentile-bootstrap 95 % interval (resampling the unit of
    ``settings.uncertainty``) and every patch's value (``None``: not finite)."""

    mean: float | None
    ci95: list[float | None]
    per_image: list[float | None]


class MeanCurves(TypedDict):
    """Mean deletion, insertion and least-relevant-first deletion curves over the patches, steps + 1 points each."""

    deletion_mean: list[float]
    insertion_mean: list[float]
    lif_mean: list[float]


class InformativeMeans(TypedDict):
    """The headline means: deletion AUC, insertion AUC and SRG over each metric's informative patches
    (SRG over deletion's)."""

    deletion_auc: Interval
    insertion_auc: Interval
    srg: Interval


class ScoredMap(TypedDict):
    """A map set scored by deletion, insertion, least-relevant-first deletion (LIF) and the symmetric relevance
    gain SRG = AUC(LIF) - AUC(deletion), over all patches and over the informative ones."""

    title: str
    deletion_auc: Interval
    insertion_auc: Interval
    lif_auc: Interval
    srg: Interval
    informative: InformativeMeans
    curves: MeanCurves


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


class Verdict(TypedDict):
    """One claim under the verdict rule (:mod:`reportgen.metrics.verdicts`); differences are positive when
    ``method`` is better than ``against``."""

    method: str
    against: str
    metric: str
    unit: str
    patches: list[int]
    slides: int | None
    n: int
    needed: int
    outcome: str
    p: float | None
    p_holm: float | None
    median_difference: float | None
    ci95: list[float | None]
    detectable_difference: float | None
    patches_for_target: int | None


class InformativeCount(TypedDict):
    """How many patches can tell maps apart for one metric, per stratum, and which cannot."""

    count: int
    of: int
    by_stratum: dict[str, int]
    uninformative: list[str]


class Informative(TypedDict):
    """The informative-patch rule and its counts per metric."""

    rule: str
    min_change: float
    deletion: InformativeCount
    insertion: InformativeCount


class Check(TypedDict):
    """One row of page one's check table (:class:`reportgen.judgement.check.Check`)."""

    check: str
    condition: str
    measured: str
    outcome: str
    section: str


class WarningRecord(TypedDict):
    """One warning, its severity (``high``, ``medium`` or ``low``; :data:`reportgen.judgement.check.SEVERITIES`)
    and the method or reference map it is about (None when it is about the model or the run)."""

    severity: str
    text: str
    method: str | None


class Summary(TypedDict):
    """What page one says: the checks (failures first) and their counts per outcome, then the findings."""

    verdict: str
    findings: list[str]
    most_faithful: dict[str, dict[str, Any] | None]
    warnings: list[str]
    warning_records: list[WarningRecord]
    accuracy: float | None
    checks: list[Check]
    check_counts: dict[str, int]


class CheckpointFacts(TypedDict):
    """The model file: where it was, its SHA-256, its detected layout and the key prefix it was read under."""

    path: str | None
    sha256: str | None
    format: str | None
    key_prefix: str | None


class ModelCardFacts(TypedDict):
    """What the configuration's ``[model_card]`` table states (``None``: not stated)."""

    intended_use: str | None
    out_of_scope: str | None
    owner: str | None
    version: str | None
    licence: str | None


class SignOff(TypedDict):
    """The configuration's ``[sign_off]`` table (``None``: left blank, to be filled in on paper)."""

    reviewer: str | None
    role: str | None
    date: str | None
    decision: str | None


class ModelSection(TypedDict):
    """The model card."""

    name: str
    architecture: str
    recipe: str | None
    weights: str | None
    checkpoint: CheckpointFacts
    preprocessing: dict[str, Any]
    training: Any
    history: Any
    val_accuracy: float | None
    evaluation: dict[str, Any]
    stored_evaluation: Any
    card: ModelCardFacts


class Selection(TypedDict):
    """How the explained patches were chosen."""

    n: int
    description: str
    strata: dict[str, int]
    explained_label_counts: dict[str, int]


class DataSection(TypedDict):
    """The data the model was evaluated and explained on."""

    source: str
    data_dir: str
    fingerprint: str
    split: str
    counts: dict[str, int]
    class_balance: dict[str, dict[str, int]]
    has_masks: bool
    selection: Selection


class Uncertainty(TypedDict):
    """What intervals and tests resample: ``unit`` "slide" (with the number of slides) or "patch", and why."""

    unit: str
    slides: int | None
    rule: str


class SettingsSection(TypedDict):
    """How every map was scored."""

    target: str
    target_description: str
    score: str
    steps: int
    substrates: dict[str, str]
    dataset_mean: list[float]
    tie_break: str
    seed: int
    precision: str
    batch_size: int
    methods: list[str]
    alpha: float
    gallery: int
    uncertainty: Uncertainty


class SubstrateDrift(TypedDict):
    """One substrate: its drift per patch (mean |change| of the tracked-class probability over the fractions), the
    share of (patch, fraction) pairs whose top-1 class changed, and the curves that use it."""

    drift: Interval
    top1_changed: float | None
    used_for: list[str]


class SubstrateScope(TypedDict):
    """How far each substrate takes a patch out of the model's scope when random pixels are replaced."""

    fractions: list[float]
    rule: str
    substrates: dict[str, SubstrateDrift]
    least_drift: str | None


class Agreement(TypedDict):
    """Mean pairwise agreement of the methods' maps (M x M matrices in ``methods`` order)."""

    methods: list[str]
    spearman: list[list[float | None]]
    iou_top10: list[list[float | None]]


class Localisation(TypedDict):
    """Where a map puts its attribution; the mask metrics are ``None`` without masks."""

    centre_mass: Interval
    pointing_game: Interval | None
    mass_in_mask: Interval | None


class SanityMethod(TypedDict):
    """One map's randomisation check; ``final`` is the mean similarity after the last stage, ``ci95``
    its interval (``null`` below 2 patches); ``outcome``: ``passed`` (interval below ``threshold``),
    ``failed`` (at or above it) or ``inconclusive``; ``passed`` is ``outcome == "passed"``."""

    stages: list[str]
    similarity: list[float]
    final: float
    per_image_final: list[float]
    threshold: float
    ci95: list[float | None]
    outcome: str
    passed: bool


class Sanity(TypedDict):
    """The cascading model-randomisation check; ``controls`` are reference maps run as methods (must
    fail), ``trustworthy`` is true when every control failed."""

    images: int
    stages: list[str]
    interval: str
    methods: dict[str, SanityMethod]
    controls: dict[str, SanityMethod]
    trustworthy: bool


class MapSimilarity(TypedDict):
    """Per-patch similarity of two map sets: Spearman of the 8 px-pooled maps and IoU of the top 10 % pixels;
    ``reading`` is the mean Spearman in the agreement note's words (agree, partly agree, disagree)."""

    spearman: Interval
    iou_top10: Interval
    reading: str


class LimeSeeds(MapSimilarity):
    """LIME explained again with a second seed, each patch's two maps compared (1 = identical)."""

    method: str
    seed_rule: str


class BaselinePair(MapSimilarity):
    """Integrated Gradients maps from baselines ``a`` and ``b`` compared."""

    a: str
    b: str


class IgBaselines(TypedDict):
    """Integrated Gradients from each baseline; ``scores`` are AUC means over each metric's informative patches."""

    method: str
    used: str
    baselines: list[str]
    scores: dict[str, InformativeMeans]
    pairs: list[BaselinePair]


class LayerRow(TypedDict):
    """Grad-CAM at one layer, scored like a method; ``against_random`` holds one verdict per metric."""

    layer: str
    feature_map_size: str
    default: bool
    used: bool
    deletion_auc: Interval
    insertion_auc: Interval
    srg: Interval
    against_random: dict[str, Verdict]


class GradCamLayers(TypedDict):
    """The Grad-CAM layer table; its verdicts are a Holm family of their own (``family``)."""

    method: str
    default_layer: str
    used_layer: str
    family: str
    rows: list[LayerRow]
    depends_on_layer: dict[str, bool]


class Stability(TypedDict):
    """Stability of the explanations themselves; a measurement not run is ``null`` (why, in ``skipped``)."""

    measures: list[str]
    skipped: dict[str, str]
    lime_seeds: LimeSeeds | None
    ig_baselines: IgBaselines | None
    grad_cam_layers: GradCamLayers | None


class StainMethod(MapSimilarity):
    """One method under one stain condition: its maps on the perturbed patches against its maps on the original
    ones; ``verdict`` is its deletion AUC against the random map on the perturbed patches, ``verdict_changed``
    whether that outcome differs from ``original_verdicts``; ``explains_stain``: the method rule fired."""

    verdict: Verdict
    verdict_changed: bool
    explains_stain: bool


class StainCondition(TypedDict):
    """One stain perturbation of the stain patches: how strong it was (``rgb_change``, mean absolute RGB change),
    the patches it left unchanged (Macenko without tissue), and what it did to the model's decision (``flip_rate``:
    share of predictions that changed class; tumour probability change, signed and absolute) and to each map;
    ``decision_stable``: at most the method rule's flip rate and probability change."""

    title: str
    strength: float | None
    description: str
    rgb_change: Interval
    unchanged: int
    unchanged_patches: list[str]
    informative: int
    flip_rate: Interval
    probability_change: Interval
    abs_probability_change: Interval
    decision_stable: bool
    methods: dict[str, StainMethod]


class ClassStain(TypedDict):
    """The model's decision on ``patches`` evaluated patches (the sample that gives the data's stain amounts), each
    given the haematoxylin and eosin amounts of a patch of the other class: how many of each class, each class's
    median amounts, the flip rate and the tumour probability's mean movement toward the donor's class;
    ``follows_class_stain``: the second model rule fired (``None``: too few patches of a class,
    :data:`reportgen.metrics.stain.MIN_MODEL_PATCHES`)."""

    title: str
    description: str
    patches: int
    class_patches: dict[str, int]
    class_amounts: dict[str, dict[str, float]]
    unchanged: int
    flip_rate: Interval
    toward_donor: Interval
    follows_class_stain: bool | None


class StainRobustness(TypedDict):
    """Stain robustness on the first ``images`` patches: HED light, HED strong, the data's stain amounts and Macenko
    normalisation to torchstain's reference; the other class's stain on a sample of evaluated patches; the rules in
    words and their ``thresholds``, the conditions the model's rule reads, the methods that explain the stain and
    whether the model decides by stain."""

    images: int
    patch_ids: list[str]
    seed_rule: str
    conditions: dict[str, StainCondition]
    original_informative: int
    original_verdicts: dict[str, Verdict]
    family: str
    method_rule: str
    model_rule: str
    model_conditions: list[str]
    thresholds: dict[str, float]
    class_stain: ClassStain | None
    model_depends_on_stain: bool | None
    explains_stain: list[str]


class PatchScores(TypedDict):
    """One map's scores on one patch."""

    deletion_auc: float | None
    insertion_auc: float | None
    lif_auc: float | None
    srg: float | None
    centre_mass: float | None


class ImageRecord(TypedDict):
    """One explained patch."""

    patch_id: str
    index: int
    label: int
    prediction: int
    probability: float
    tumour_probability: float
    target: int
    stratum: str
    slide_id: str | None
    per_method: dict[str, PatchScores]
    note: str


class Provenance(TypedDict):
    """What it takes to reproduce the numbers."""

    command_line: str
    config: dict[str, Any]
    seed: int
    versions: dict[str, str]
    checkpoint_sha256: str | None
    data_fingerprint: str
    patch_ids: list[str]
    machine: dict[str, Any]
    timings: dict[str, float]
    forward_passes: dict[str, int]
    metric_notes: list[str]
    reportgen_version: str


class Share(TypedDict):
    """A mean over chosen patches with its bootstrap interval (slides as the unit where known) and patch count."""

    mean: float | None
    ci95: list[float | None]
    n: int


class EvidenceMethod(TypedDict):
    """Where one method puts its positive attribution: in the centre and the tumour mask on true positives, and in
    the periphery on the tumour calls of patches with tumour only outside the centre."""

    centre_tp: Share
    mask_tp: Share | None
    periphery_hard_negative_calls: Share | None


class EvidenceImages(TypedDict):
    """Per patch: the tumour probability without the periphery and without the centre region."""

    without_periphery: list[float]
    without_centre: list[float]


class Evidence(TypedDict):
    """Right for the right reason (:mod:`reportgen.pipeline.evidence`): the region-removal test and its decision."""

    rule: str
    substrate: str
    limit: float
    tumour_calls: int
    lost_without_periphery: Share
    kept_without_centre: Share
    decision: str
    uniform_centre_share: float
    uniform_mask_share_tp: Share | None
    periphery_only_negatives: int | None
    periphery_only_called_tumour: int | None
    methods: dict[str, EvidenceMethod]
    per_image: EvidenceImages


class SlideAccuracy(TypedDict):
    """The model's accuracy on one slide's evaluated patches."""

    patches: int
    accuracy: float


class SlideMethod(TypedDict):
    """One method on one slide's explained patches: deletion gain over the random map (informative patches) and
    centre mass; None where the slide has no such patch."""

    deletion_gain: float | None
    centre_mass: float | None


class SlideExplained(TypedDict):
    """One slide's explained patches, how many are informative for deletion, and each method on them."""

    patches: int
    informative: int
    methods: dict[str, SlideMethod]


class WorstSlide(TypedDict):
    """The slide where a method's deletion gain over the random map is lowest."""

    slide: str
    deletion_gain: float


class Slides(TypedDict):
    """Per slide (:mod:`reportgen.pipeline.slide_section`): accuracy on the split, and the methods on its patches."""

    rule: str
    split: dict[str, SlideAccuracy]
    explained: dict[str, SlideExplained]
    worst: dict[str, WorstSlide | None]


class ReportDocument(TypedDict):
    """The whole of ``report.json``."""

    schema_version: int
    generated_at: str
    title: str
    summary: Summary
    model: ModelSection
    data: DataSection
    settings: SettingsSection
    methods: dict[str, MethodSection]
    baselines: dict[str, ScoredMap]
    informative: Informative
    verdicts: list[Verdict]
    substrate_scope: SubstrateScope | None
    substrate_rankings: dict[str, dict[str, list[str]]] | None
    substrate_aucs: dict[str, dict[str, dict[str, float | None]]] | None
    agreement: Agreement
    localisation: dict[str, Localisation]
    sanity: Sanity | None
    stability: Stability | None
    evidence: Evidence | None
    slides: Slides | None
    stain_robustness: StainRobustness | None
    images: list[ImageRecord]
    provenance: Provenance
    sign_off: SignOff
    comparison: dict[str, Any] | None
    gates: list[dict[str, Any]] | None


#: What each top-level key holds, for the key table of docs/report-json.md (the typed sections add their keys).
TOP_LEVEL = {
    "schema_version": "document version",
    "generated_at": "UTC time the report was built",
    "title": "report title",
    "summary": "page one",
    "model": "the model card",
    "data": "the data",
    "settings": "how the maps were scored",
    "methods": "per method (name -> record)",
    "baselines": "per reference map `random`, `centre_prior`, `sobel` (name -> record)",
    "informative": "which patches can tell maps apart, per metric",
    "verdicts": "one record per claim: each method against each reference map and each other method, per metric",
    "substrate_scope": "each substrate's drift when random pixels are replaced (how far it leaves the model's scope)",
    "substrate_rankings": "method ranking per substrate and metric (`--compare-substrates`; else `null`)",
    "substrate_aucs": "mean AUC per substrate, metric and map (`--compare-substrates`; else `null`)",
    "agreement": "agreement of the methods' maps",
    "localisation": "per map (name -> record)",
    "sanity": "the randomisation check (`--sanity-images 0`: `null`)",
    "stability": "stability of the explanations: LIME under a second seed, IG per baseline, Grad-CAM per layer "
                 "(`--stability`; `none`: `null`)",
    "evidence": "right for the right reason: do the tumour calls survive removing the periphery, and where the "
                "maps put their attribution",
    "slides": "per slide: accuracy on the evaluated split, each method on the slide's explained patches, the "
              "worst slide per method (`null` without slide ids)",
    "stain_robustness": "the model and the maps under HED jitter (light, strong), the data's stain amounts and "
                        "Macenko normalisation; the model under the other class's stain (`--stain-images 0`: `null`)",
    "images": "one record per explained patch",
    "provenance": "reproducibility",
    "sign_off": "who signs the report (`[sign_off]` in the configuration; `null` values are blank lines)",
    "comparison": "changes since `--compare REPORT_JSON` (else `null`)",
    "gates": "`--fail-if` results: `expression`, `passed`, `detail` (else `null`)",
}


def _typed_dict_in(hint) -> type | None:
    """The typed dict a type hint holds: itself, or inside ``Optional``, ``list`` or ``dict[str, ...]``."""
    if isinstance(hint, type) and hasattr(hint, "__required_keys__"):
        return hint
    for inner in getattr(hint, "__args__", ()):
        found = _typed_dict_in(inner)
        if found is not None:
            return found
    return None


def section_type(key: str) -> type | None:
    """The typed dict of top-level ``key``'s value (of each entry, for name -> record maps), or ``None``."""
    return _typed_dict_in(get_type_hints(ReportDocument)[key])


def section_keys(cls: type) -> list[str]:
    """The keys of typed dict ``cls`` in declaration order, inherited keys first."""
    return list(get_type_hints(cls))


#: Shapes described once under the table instead of at every key that has them.
_COMMON = (Interval, MeanCurves, InformativeMeans)


def _describe(cls: type) -> str:
    parts = []
    for name, hint in get_type_hints(cls).items():
        inner = _typed_dict_in(hint)
        if inner is None or inner in _COMMON:
            parts.append(f"`{name}`")
        else:
            parts.append(f"`{name}` ({', '.join(f'`{key}`' for key in section_keys(inner))})")
    return ", ".join(parts)


def readme_table() -> str:
    """The ``report.json`` key table of docs/report-json.md, generated from the types above."""
    rows = ["| key | content |", "| --- | --- |"]
    for key, description in TOP_LEVEL.items():
        typed = section_type(key)
        rows.append(f"| `{key}` | {description}{': ' + _describe(typed) if typed is not None else ''} |")
    return "\n".join(rows)


# The document docs/report-json.md, generated from the types above ------------------------------------------

#: Where the generated document lives, and the command that writes it.
REPORT_JSON_DOC = "docs/report-json.md"
REPORT_JSON_COMMAND = "python -m reportgen.schema > docs/report-json.md"

_ATTRIBUTIONS_H5 = """\
## attributions.h5

Beside `report.json`, `attributions.h5` (HDF5, read with `h5py`) holds what every number was
computed from, N patches in the report's order (`reportgen/pipeline/patch_store.py`):

| dataset | content |
| --- | --- |
| `patch_ids` | (N,) string `split:index` |
| `patch_indices`, `labels`, `targets`, `predictions` | (N,) int64: index in the split, label, the class explained, the model's prediction |
| `images` | (N, 96, 96, 3) uint8, the patches as read |
| `masks` | (N, 96, 96) uint8 ground-truth tumour masks (only where the data have them) |
| `maps/<method>` | (N, 96, 96) float32, each method's raw map |
| `curves/<map set>/<curve>` | (N, steps + 1) float64: `deletion` (most relevant first), `insertion` and `least_first` curves of every method and reference map (`random`, `centre_prior`, `sobel`) |

The reference maps themselves are not stored: the random map is seeded per patch, and the centre
prior and the Sobel edges are computed from the image. Images, masks and maps are chunked one
patch per chunk and gzip-compressed, so reading one patch's map reads 36 KiB:
`h5py.File("report/attributions.h5")["maps/grad_cam"][7]`.

The build writes the file as it goes: it takes the patches 64 at a time through explanation,
curves, localisation, agreement, stability and the periphery test, writes each chunk's images,
maps and curves, and keeps only the per-patch numbers, so memory does not grow with `--images`
(every per-patch number is computed as if the patch were alone: seeds derive from the patch's
index, and no forward pass mixes two patches). Every statistic of the report is taken over all
patches; the gallery shows the first `--gallery` of them, errors first, and reads just those back
from the file.
"""


def _first_paragraph(cls: type) -> str:
    """A typed dict's docstring as one line."""
    return " ".join((cls.__doc__ or "").split())


def _keys_holding(cls: type) -> list[str]:
    """Names of the keys, in any typed dict of this module, whose value is (or holds) ``cls``."""
    names = []
    for record in [value for value in globals().values() if isinstance(value, type) and hasattr(value, "__required_keys__")]:
        for name, hint in get_type_hints(record).items():
            if _typed_dict_in(hint) is cls and name not in names:
                names.append(name)
    return names


def report_json_markdown() -> str:
    """The whole of ``docs/report-json.md``: the key table, the shared shapes and the ``attributions.h5`` layout.

    Written by ``python -m reportgen.schema > docs/report-json.md``; a test keeps the file equal to this.
    """
    shapes = "\n".join(f"- `{cls.__name__}` ({', '.join(f'`{key}`' for key in section_keys(cls))}), under "
                       f"{', '.join(f'`{key}`' for key in _keys_holding(cls))}: {_first_paragraph(cls)}"
                       for cls in _COMMON)
    return f"""\
# report.json and attributions.h5

<!-- Generated from reportgen/schema.py by `{REPORT_JSON_COMMAND}`; do not edit by hand. -->

`report.json` holds every number the report shows (`schema_version` {SCHEMA_VERSION}). Its one
producer is `reportgen/pipeline/document.py` and its schema is `reportgen/schema.py`, whose typed
sections generate this page (a test keeps the two equal and checks a real build against them).
The document is complete before anything is rendered, so the HTML and PDF show exactly what
`report.json` holds; `provenance.timings` covers the stages up to the document (rendering is
logged, not recorded). What the numbers mean: [metrics.md](metrics.md).

## Keys

{readme_table()}

Shapes used under several keys, listed by name only in the table:

{shapes}

{_ATTRIBUTIONS_H5}"""


if __name__ == "__main__":
    print(report_json_markdown(), end="")
