"""reportgen: explainability audit reports for PatchCamelyon patch classifiers."""

__version__ = "0.1.0"
