"""The body's labels for settings a reader needs, by the key they have in report.json.

The body of the report shows only the settings named here, in people's words;
every key and value, named here or not, stays in report.json and in the
appendix (:mod:`reportgen.report.appendix`).  A key a new method adds is
therefore never lost, only left to the appendix until it gets a label.
"""

from __future__ import annotations

from reportgen.formatting import fmt_plain

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

#: Explanation method settings keys -> labels (any method; a key the method lacks is skipped).
METHOD_SETTING_LABELS = (
    ("model_output", "Output explained"), ("target_layer", "Target layer"), ("feature_map_size", "Feature map size"),
    ("baseline", "Baseline"), ("n_steps", "Integration steps"), ("n_samples", "Samples"),
    ("num_samples", "Perturbed samples per patch"), ("segmentation", "Superpixel segmentation"),
    ("stdev", "Noise standard deviation"), ("window", "Occlusion window (pixels)"), ("stride", "Occlusion stride (pixels)"),
    ("seed", "Seed"),
)

#: Labels of a method's per-patch diagnostics (shown as mean [95% CI] over the patches).
EXTRA_LABELS = {
    "abs_completeness_delta": "Completeness gap |sum of attributions - (F(x) - F(baseline))| (logit), mean",
    "relative_completeness_delta": "Completeness gap relative to |F(x) - F(baseline)|, mean",
    "n_superpixels": "Superpixels per patch, mean",
    "distinct_perturbations": "Distinct perturbations per patch, mean",
    "local_fit_r2": "Local linear fit R\u00b2, mean",
}


def labelled_rows(record: dict | None, labels: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """(label, value for people) for each labelled key ``record`` has, in the labels' order."""
    record = record or {}
    return [(label, fmt_plain(record[key])) for key, label in labels if key in record]
