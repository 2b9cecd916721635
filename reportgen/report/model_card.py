"""The "Model card" and "Data" sections' views, from the document's ``model`` and ``data`` records (the model's
checks: :mod:`reportgen.judgement.model`)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.data.label_region import CENTRE, LABEL_REGIONS
from reportgen.formatting import file_name, fmt, fmt_any, rows_of
from reportgen.judgement.reading import patch_size
from reportgen.report import figures as figs
from reportgen.report import heatmaps
from reportgen.report.labels import PREPROCESSING_LABELS, TRAINING_LABELS, labelled_rows
from reportgen.schema import ReportDocument


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
    resize_note: str | None = None


@dataclass(frozen=True)
class DataView:
    """Where the patches came from and how they were chosen."""

    rows: list[tuple[str, str]]
    counts: list[tuple[str, str]]
    class_balance: list[tuple[str, str, str]]
    selection: str
    strata: list[tuple[str, str]]


NOT_STATED = "not stated"
MODEL_CARD_LABELS = (("intended_use", "Intended use"), ("out_of_scope", "Out-of-scope uses"), ("owner", "Owner"),
                     ("version", "Model version"), ("licence", "Licence"))


def model_card_view(document: ReportDocument) -> ModelCard:
    """The model card: what the configuration states, the checkpoint, training and the evaluation metrics."""
    model = document.model
    checkpoint, card = model.checkpoint, model.card
    stated = [(label, getattr(card, key)) for key, label in MODEL_CARD_LABELS]
    rows = [(label, str(value) if value else NOT_STATED) for label, value in stated]
    rows += [("Architecture", fmt_any(model.architecture)),
            ("Training recipe", fmt_any(model.recipe)),
            ("Initial weights", fmt_any(model.weights)),
            ("Checkpoint", file_name(checkpoint.path)),
            ("Checkpoint format", fmt_any(checkpoint.format)),
            ("Checkpoint SHA-256", fmt_any(checkpoint.sha256)),
            ("Validation accuracy (checkpoint)", fmt(model.val_accuracy))]
    training = model.training or {}
    evaluation = model.evaluation
    metrics = [(label, fmt(evaluation.get(key))) for key, label in (
        ("accuracy", "Accuracy"), ("roc_auc", "ROC AUC"), ("sensitivity", "Sensitivity"),
        ("specificity", "Specificity"), ("ece", "Expected calibration error"), ("n", "Patches evaluated"))
        if key in evaluation]
    matrix = evaluation.get("confusion_matrix")
    confusion = None
    if matrix:
        (tn, fp), (fn, tp) = matrix
        confusion = ConfusionView(tn=fmt(tn), fp=fmt(fp), fn=fmt(fn), tp=fmt(tp))
    reliability = evaluation.get("reliability")
    return ModelCard(resize_note=resize_note(model.preprocessing),
        name=str(model.name), rows=rows,
        preprocessing=labelled_rows(model.preprocessing, PREPROCESSING_LABELS),
        training=labelled_rows(training, TRAINING_LABELS), has_training_record=bool(training),
        metrics=metrics, confusion=confusion, confusion_uri=heatmaps.confusion_uri(matrix) if matrix else None,
        reliability_uri=figs.reliability_uri(reliability) if reliability and reliability.get("bin_edges") else None)


def resize_note(preprocessing: dict) -> str | None:
    """What the model's own resize means for the maps, or ``None`` when the network takes the patch as it is."""
    side, resized = preprocessing.get("input_size"), preprocessing.get("resize_to")
    if not resized or resized == side:
        return None
    return (f"The network resizes each {side}x{side} patch to {resized}x{resized} (bilinear) inside its own module, "
            "before its normalisation. Every map and every score is in the patch's own "
            f"{side}x{side} pixels; a map computed on the network's own feature grid is upsampled from that "
            "grid to the patch.")


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def data_view(document: ReportDocument) -> DataView:
    """Where the patches came from, the class balance per split and how the explained patches were chosen."""
    data = document.data
    selection = data.selection
    balance = []
    for split, classes in data.class_balance.items():
        balance.append((split, fmt_any(classes.get("0")), fmt_any(classes.get("1"))))
    rows = [("Source", fmt_any(data.source)), ("Data directory", file_name(data.data_dir)),
            ("Split explained", fmt_any(data.split)), ("Fingerprint", fmt_any(data.fingerprint)),
            ("Ground-truth masks", fmt_any(data.has_masks)),
            ("Patch size", f"{patch_size(document)}x{patch_size(document)} pixels"),
            ("Label region", _sentence_case(LABEL_REGIONS.get(data.label_region or CENTRE, fmt_any(data.label_region))))]
    description = f"{selection.n} patches: {selection.description}"
    return DataView(rows=rows, counts=rows_of(data.counts), class_balance=balance,
                    selection=description, strata=rows_of(selection.strata))
