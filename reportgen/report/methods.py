"""The "Methods and settings" section's views: how every map was scored (the run's settings) and each method's
settings, cost and diagnostics, from the document's ``settings`` and ``methods`` records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reportgen.formatting import fmt, fmt_any, fmt_plain
from reportgen.judgement.reading import method_title
from reportgen.report.labels import method_setting_rows
from reportgen.schema import ReportDocument, WarningRecord

if TYPE_CHECKING:
    from reportgen.report.views import WarningView


@dataclass(frozen=True)
class MethodSettingsView:
    """One explanation method's settings and cost."""

    title: str
    reference: str
    rows: list[tuple[str, str]]
    cost: str
    #: Labels ("W3") of the summary's warnings about this method.
    warnings: list[str]


#: The run settings table's labels, in report order; the raw keys stay in report.json and the appendix.
RUN_SETTING_LABELS = (
    ("target_description", "Tracked class"), ("score", "Score"), ("steps", "Curve steps"),
    ("substrates", "Substrates"), ("dataset_mean", "Mean colour (RGB) of the mean substrate"),
    ("tie_break", "Tie-break"), ("seed", "Seed"), ("precision", "Precision"), ("batch_size", "Batch size"),
    ("methods", "Methods"), ("alpha", "Family-wise error rate of the verdicts (alpha)"),
)


def run_settings_rows(document: ReportDocument) -> list[tuple[str, str]]:
    """(label, value) of how every map was scored, in :data:`RUN_SETTING_LABELS` order."""
    settings = document.settings
    shown = {key: getattr(settings, key) for key, _ in RUN_SETTING_LABELS}
    shown["methods"] = [method_title(document, name) for name in settings.methods]
    shown["dataset_mean"] = ", ".join(f"{float(v):.3f}" for v in settings.dataset_mean)
    return [(label, fmt_plain(shown[key])) for key, label in RUN_SETTING_LABELS]


def method_settings_views(document: ReportDocument, warnings: list[WarningView],
                          records: list[WarningRecord]) -> list[MethodSettingsView]:
    """Each method's labelled settings, its per-patch diagnostics (mean [95% CI], e.g. LIME's superpixel count)
    and the labels of the summary's warnings about it (said once, in the summary; ``records`` are the
    summary's warning records in the order of ``warnings``)."""
    views = []
    for name, record in document.methods.items():
        title = method_title(document, name)
        cost = (f"{fmt(record.seconds, 2)} s, {fmt_any(record.forward_passes)} forward and "
                f"{fmt_any(record.backward_passes)} backward image-passes")
        if record.cached_patches:
            # Cached maps cost nothing in this run; the cache serves only maps the same code computed.
            cost += f" in this run; {record.cached_patches} of {len(document.images)} maps came from the cache"
        views.append(MethodSettingsView(
            title=title, reference=record.reference, rows=method_setting_rows(name, record), cost=cost,
            warnings=[view.label for view, warning in zip(warnings, records) if warning.method == name]))
    return views
