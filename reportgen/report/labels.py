"""The body's labels for settings a reader needs, by the key they have in report.json.

The body of the report shows only the settings named here, in people's words;
every key and value, named here or not, stays in report.json and in the
appendix (:mod:`reportgen.report.appendix`).  A key a new method adds is
therefore never lost, only left to the appendix until it gets a label.
"""

from __future__ import annotations

from reportgen.explain.base import explainer_class
from reportgen.formatting import fmt_interval, fmt_plain, human_key
from reportgen.schema import MethodSection

#: Training record keys -> labels, in the order the model card shows them.
TRAINING_LABELS = (
    ("recipe", "Recipe"), ("weights", "Initial weights"), ("epochs_run", "Epochs run"), ("epochs", "Epochs planned"),
    ("stopped", "Stopped"), ("batch_size", "Batch size"), ("lr", "Learning rate"),
    ("patience", "Early-stopping patience (epochs)"), ("train_size", "Training patches"),
    ("train_fraction", "Share of the training split used"), ("augment", "Augmentation"), ("seed", "Seed"),
    ("precision", "Precision"), ("device", "Trained on"), ("seconds", "Training time (s)"),
)

#: Preprocessing record keys -> labels.
PREPROCESSING_LABELS = (
    ("input_size", "Input size (pixels)"), ("resize_to", "Resized to (pixels)"),
    ("mean", "Normalisation mean (RGB)"), ("std", "Normalisation standard deviation (RGB)"),
    ("assumed", "Assumed (not recorded in the checkpoint)"),
)

def method_setting_rows(name: str, record: MethodSection) -> list[tuple[str, str]]:
    """(label, value for people) of the settings method ``name`` labels (its ``report_setting_labels``), then of
    its per-patch diagnostics, mean [95% CI] over the patches, labelled by the method or by their key."""
    method = explainer_class(name)
    extras = [(method.extra_labels.get(key, human_key(key)), fmt_interval(value))
              for key, value in record.extras.items()]
    return labelled_rows(record.settings, method.report_setting_labels()) + extras


def patch_facts(name: str) -> dict[str, str]:
    """The diagnostics method ``name`` shows beside each patch: extras key -> the words after its title."""
    return dict(explainer_class(name).patch_facts)


def labelled_rows(record: dict | None, labels: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """(label, value for people) for each labelled key ``record`` has, in the labels' order."""
    record = record or {}
    return [(label, fmt_plain(record[key])) for key, label in labels if key in record]
