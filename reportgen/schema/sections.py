"""The records of the optional sections, each ``null`` in the document when it did not run: the randomisation
sanity check, the stability of the explanations, stain robustness, right for the right reason (evidence) and
the per-slide results."""

from __future__ import annotations

from reportgen.explain import list_stability_variants
from reportgen.explain.base import StabilityVariant
from reportgen.schema.faithfulness import InformativeMeans, Interval, Verdict
from reportgen.schema.record import Record, make_record, record


@record
class SanityMethod(Record):
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


@record
class Sanity(Record):
    """The cascading model-randomisation check; ``controls`` are reference maps run as methods (must
    fail), ``trustworthy`` is true when every control failed."""

    images: int
    stages: list[str]
    interval: str
    methods: dict[str, SanityMethod]
    controls: dict[str, SanityMethod]
    trustworthy: bool


@record
class MapSimilarity(Record):
    """Per-patch similarity of two map sets: Spearman of the 8 px-pooled maps and IoU of the top 10 % pixels;
    ``reading`` is the mean Spearman in the agreement note's words (agree, partly agree, disagree)."""

    spearman: Interval
    iou_top10: Interval
    reading: str


@record
class SeedRepeat(MapSimilarity):
    """A ``seed`` variant: the method explained again with a second seed, each patch's two maps compared
    (1 = identical)."""

    method: str
    seed_rule: str


@record
class ValuePair(MapSimilarity):
    """A ``pairs`` variant: the method's maps at values ``a`` and ``b`` of its setting compared."""

    a: str
    b: str


def _variant_record(variant: StabilityVariant) -> type:
    """The record of one stability variant, by its kind; keys named by what it varies
    (:class:`reportgen.explain.StabilityVariant`)."""
    varies = variant.varies
    if variant.kind == "seed":
        return SeedRepeat
    if variant.kind == "pairs":
        return make_record("SettingPairs", {"method": str, "used": str, f"{varies}s": list[str],
                                            "scores": dict[str, InformativeMeans], "pairs": list[ValuePair]},
                           f"A ``pairs`` variant: the method at each {varies} (``used``: the report's); ``scores`` "
                           "are AUC means over each metric's informative patches.",
                           module=__name__, attribute=f"SettingPairs_{variant.name}")
    row = make_record("TableRow", {varies: str, **{key: str for key in variant.facts}, "default": bool, "used": bool,
                                   "deletion_auc": Interval, "insertion_auc": Interval, "srg": Interval,
                                   "against_random": dict[str, Verdict]},
                      f"The method at one {varies}, scored like a method; ``against_random`` holds one verdict per "
                      "metric.", module=__name__, attribute=f"TableRow_{variant.name}")
    return make_record("SettingTable", {"method": str, f"default_{varies}": str, f"used_{varies}": str, "family": str,
                                        "rows": list[row], f"depends_on_{varies}": dict[str, bool]},
                       f"A ``table`` variant: the method per {varies}; its verdicts are a Holm family of their own "
                       "(``family``).", module=__name__, attribute=f"SettingTable_{variant.name}")


#: Stability of the explanations themselves: ``measures`` run, ``skipped`` (name -> why), and one record per
#: stability variant the registered methods declare, under its name; a measurement not run is ``null``.
Stability = make_record("Stability", {"measures": list[str], "skipped": dict[str, str],
                                      **{variant.name: _variant_record(variant) | None
                                         for variant in list_stability_variants()}},
                        "Stability of the explanations themselves, one record per stability variant of the methods; "
                        "a measurement not run is ``null`` (why, in ``skipped``).", module=__name__)


@record
class StainMethod(MapSimilarity):
    """One method under one stain condition: its maps on the perturbed patches against its maps on the original
    ones; ``verdict`` is its deletion AUC against the random map on the perturbed patches, ``verdict_changed``
    whether that outcome differs from ``original_verdicts``.  Whether the method explains the stain is its
    page-one check's outcome (``summary.checks``)."""

    verdict: Verdict
    verdict_changed: bool


@record
class Rate(Record):
    """A model-level check's mean over ``n`` patches with its bootstrap 95 % interval, resampling the ``slides``
    they come from where slide ids are known (``slides`` is ``null`` without them, and patches are the unit)."""

    mean: float | None
    ci95: list[float | None]
    n: int
    slides: int | None


@record
class StainCondition(Record):
    """One stain perturbation.  On the model-level checks' patches (``model_patches`` of the section: every
    evaluated patch, or a stated sample): what it did to the model's decision (``flip_rate``: share of predictions
    that changed class; tumour probability change, signed and absolute), ``decision_stable`` (at most the method
    rule's flip rate and probability change) and ``model_unchanged`` (patches it could not change, e.g. Macenko
    without tissue).  On the stain patches: how strong it was (``rgb_change``, mean absolute RGB change), the
    patches it left unchanged, the share of their predictions that flipped (``stain_patches_flip_rate``) and what
    it did to each map."""

    title: str
    strength: float | None
    description: str
    rgb_change: Interval
    unchanged: int
    unchanged_patches: list[str]
    informative: int
    flip_rate: Rate
    probability_change: Rate
    abs_probability_change: Rate
    decision_stable: bool
    model_unchanged: int
    stain_patches_flip_rate: Interval
    methods: dict[str, StainMethod]


@record
class ClassStain(Record):
    """The model's decision on ``patches`` evaluated patches (the model-level checks' patches), each given the
    haematoxylin and eosin amounts of a patch of the other class among them: how many of each class, each class's
    median amounts, the flip rate and the tumour probability's mean movement toward the donor's class, which the
    page-one check decides by its interval."""

    title: str
    description: str
    patches: int
    class_patches: dict[str, int]
    class_amounts: dict[str, dict[str, float]]
    unchanged: int
    flip_rate: Rate
    toward_donor: Rate


@record
class StainRobustness(Record):
    """Stain robustness: HED light, HED strong, the data's stain amounts and Macenko normalisation to torchstain's
    reference, the maps re-explained on the first ``images`` explained patches (the stain patches) and the model's
    decisions, with the other class's stain, on ``model_patches`` evaluated patches from ``model_slides`` slides
    (``model_chosen``: every evaluated patch, or how a sample of a large split was drawn); the rules in words and
    their ``thresholds`` and the conditions the model's rule reads; the outcomes are the page-one checks'
    (``summary.checks``)."""

    images: int
    patch_ids: list[str]
    seed_rule: str
    model_patches: int
    model_slides: int | None
    model_chosen: str
    conditions: dict[str, StainCondition]
    original_informative: int
    original_verdicts: dict[str, Verdict]
    family: str
    method_rule: str
    model_rule: str
    model_conditions: list[str]
    thresholds: dict[str, float]
    class_stain: ClassStain | None



@record
class Share(Record):
    """A mean over chosen patches with its bootstrap interval (slides as the unit where known) and patch count."""

    mean: float | None
    ci95: list[float | None]
    n: int


@record
class EvidenceMethod(Record):
    """Where one method puts its positive attribution: in the centre and the tumour mask on true positives, and in
    the periphery on the tumour calls of patches with tumour only outside the centre."""

    centre_tp: Share
    mask_tp: Share | None
    periphery_hard_negative_calls: Share | None


@record
class EvidenceImages(Record):
    """Per patch: the tumour probability without the periphery and without the centre region."""

    without_periphery: list[float]
    without_centre: list[float]


@record
class Evidence(Record):
    """Right for the right reason (:mod:`reportgen.pipeline.evidence`): the region-removal test (its outcome is the
    page-one check's), on
    ``patches`` evaluated patches from ``slides`` slides (``chosen``: every evaluated patch, or how a sample of a
    large split was drawn; ``evaluated``: how many the build evaluated), among which the model made
    ``tumour_calls``; the hard negatives' counts on the same patches; each method's shares and ``per_image`` on the
    explained patches, among which the model made ``explained_tumour_calls``."""

    rule: str
    substrate: str
    limit: float
    patches: int
    slides: int | None
    evaluated: int
    chosen: str
    tumour_calls: int
    lost_without_periphery: Rate
    kept_without_centre: Rate
    explained_tumour_calls: int
    uniform_centre_share: float
    uniform_mask_share_tp: Share | None
    periphery_only_negatives: int | None
    periphery_only_called_tumour: int | None
    methods: dict[str, EvidenceMethod]
    per_image: EvidenceImages


@record
class SlideAccuracy(Record):
    """The model's accuracy on one slide's evaluated patches, with its exact binomial 95 % interval."""

    patches: int
    accuracy: float
    ci95: list[float]


@record
class SlideMethod(Record):
    """One method on one slide's explained patches: deletion gain over the random map (informative patches) and
    centre mass; None where the slide has no such patch."""

    deletion_gain: float | None
    centre_mass: float | None


@record
class SlideExplained(Record):
    """One slide's explained patches, how many are informative for deletion, and each method on them."""

    patches: int
    informative: int
    methods: dict[str, SlideMethod]


@record
class WorstSlide(Record):
    """The slide where a method's deletion gain over the random map is lowest."""

    slide: str
    deletion_gain: float


@record
class Slides(Record):
    """Per slide (:mod:`reportgen.pipeline.slide_section`): accuracy on the split, and the methods on its patches."""

    rule: str
    split: dict[str, SlideAccuracy]
    explained: dict[str, SlideExplained]
    worst: dict[str, WorstSlide | None]

