"""The records of what was audited and how: the model card, the data and the explained patches, the scoring
settings, provenance and sign-off."""

from __future__ import annotations

from typing import Any

from reportgen.schema.record import Record, record


@record
class CheckpointFacts(Record):
    """The model file: where it was, its SHA-256, its detected layout and the key prefix it was read under."""

    path: str | None
    sha256: str | None
    format: str | None
    key_prefix: str | None


@record
class ModelCardFacts(Record):
    """What the configuration's ``[model_card]`` table states (``None``: not stated)."""

    intended_use: str | None
    out_of_scope: str | None
    owner: str | None
    version: str | None
    licence: str | None


@record
class SignOff(Record):
    """The configuration's ``[sign_off]`` table (``None``: left blank, to be filled in on paper)."""

    reviewer: str | None
    role: str | None
    date: str | None
    decision: str | None


@record
class ModelSection(Record):
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


@record
class Selection(Record):
    """How the explained patches were chosen."""

    n: int
    description: str
    strata: dict[str, int]
    explained_label_counts: dict[str, int]


@record
class DataSection(Record):
    """The data the model was evaluated and explained on; ``label_region`` is ``centre32`` where the centre 32x32
    decides the label (PCam, or an image folder that states it) and ``none`` where the data declare no such region
    (the checks built on it then do not apply); ``patch_size`` is the side of the square patches in pixels
    (``None`` in a report written before it was recorded: 96, PCam's)."""

    source: str
    data_dir: str
    fingerprint: str
    split: str
    counts: dict[str, int]
    class_balance: dict[str, dict[str, int]]
    has_masks: bool
    label_region: str | None
    patch_size: int | None
    selection: Selection


@record
class Uncertainty(Record):
    """What intervals and tests resample: ``unit`` "slide" (with the number of slides) or "patch", and why."""

    unit: str
    slides: int | None
    rule: str


@record
class SettingsSection(Record):
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



@record
class PatchScores(Record):
    """One map's scores on one patch."""

    deletion_auc: float | None
    insertion_auc: float | None
    lif_auc: float | None
    srg: float | None
    centre_mass: float | None


@record
class ImageRecord(Record):
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


@record
class Provenance(Record):
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

