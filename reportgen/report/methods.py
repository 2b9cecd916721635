"""The "Methods and settings" section's views: how every map was scored (the run's settings) and each method's
settings, cost and diagnostics, from the document's ``settings`` and ``methods`` records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reportgen.formatting import fmt, fmt_any, fmt_plain
from reportgen.judgement.reading import method_title
from reportgen.report.labels import method_setting_rows

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


def run_settings_rows(document: dict) -> list[tuple[str, str]]:
    """(label, value) of how every map was scored, in :data:`RUN_SETTING_LABELS` order."""
    settings = dict(document.get("settings") or {})
    if isinstance(settings.get("methods"), list):
        settings["methods"] = [method_title(document, name) for name in settings["methods"]]
    if isinstance(settings.get("dataset_mean"), list):
        settings["dataset_mean"] = ", ".join(f"{float(v):.3f}" for v in settings["dataset_mean"])
    return [(label, fmt_plain(settings[key])) for key, label in RUN_SETTING_LABELS if key in settings]


def method_settings_views(document: dict, warnings: list[WarningView], records: list[dict]) -> list[MethodSettingsView]:
    """Each method's labelled settings, its per-patch diagnostics (mean [95% CI], e.g. LIME's superpixel count)
    and the labels of the summary's warnings about it (said once, in the summary; ``records`` are the
    summary's warning records in the order of ``warnings``)."""
    views = []
    for name, record in (document.get("methods") or {}).items():
        title = method_title(document, name)
        cost = (f"{fmt(record.get('seconds'), 2)} s, {fmt_any(record.get('forward_passes'))} forward and "
                f"{fmt_any(record.get('backward_passes'))} backward image-passes")
        cached = record.get("cached_patches") or 0
        if cached:
            # Cached maps cost nothing in this run; the cache serves only maps the same code computed.
            cost += f" in this run; {cached} of {len(document.get('images') or [])} maps came from the cache"
        views.append(MethodSettingsView(
            title=title, reference=str(record.get("reference", "")), rows=method_setting_rows(name, record), cost=cost,
            warnings=[view.label for view, warning in zip(warnings, records) if warning.get("method") == name]))
    return views
