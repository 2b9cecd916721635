"""The appendix: every setting and record under its report.json key, for the engineer who reruns the audit.

The body of the report speaks in labels (:mod:`reportgen.report.labels`); this
is where the raw keys, JSON values, library versions, timings and the full
resolved configuration go, so that nothing is lost and nothing raw reads as a
finding.  Local paths are shortened to their file names, as everywhere in the
HTML and PDF; report.json keeps them whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from reportgen.formatting import fmt, rows_of, without_paths
from reportgen.judgement.reading import method_title
from reportgen.judgement.sections import sections
from reportgen.report.sections import section_record
from reportgen.schema import Provenance, ReportDocument, to_json


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


def _timings(provenance: Provenance) -> list[tuple[str, str]]:
    return [(str(stage), f"{float(seconds):.2f} s") for stage, seconds in provenance.timings.items()]


def build_appendix(document: ReportDocument) -> AppendixView:
    """The raw tables of ``document`` (a report document, schema_version 1), in report order."""
    model = document.model
    training = dict(model.training or {})
    history = model.history or training.pop("history", None) or []
    provenance = document.provenance
    # Records are shown as report.json stores them: their JSON, key by key.
    tables = [AppendixTable(title="Run settings (settings)", rows=rows_of(to_json(document.settings))),
              AppendixTable(title="Preprocessing (model.preprocessing)", rows=rows_of(model.preprocessing)),
              AppendixTable(title="Training (model.training)", rows=rows_of(training))]
    for name, record in document.methods.items():
        tables.append(AppendixTable(title=f"{method_title(document, name)} (methods.{name}.settings)",
                                    rows=rows_of(record.settings)))
    # A section that makes its own record (reportgen.judgement.sections.Section.record) shows it raw here too.
    own_records = [(section, section_record(document, section.key)) for section in sections()
                   if section.record is not None]
    tables += [AppendixTable(title=f"{section.title} ({section.key})", rows=rows_of(to_json(value)))
               for section, value in own_records if value is not None]
    tables += [AppendixTable(title="Library versions (provenance.versions)", rows=rows_of(provenance.versions)),
               AppendixTable(title="Machine (provenance.machine)", rows=rows_of(provenance.machine)),
               AppendixTable(title="Timings of this run (provenance.timings; cached steps take almost no time)",
                             rows=_timings(provenance))]
    # Local paths are shortened to their file names here too; report.json keeps them whole.
    tables = [AppendixTable(title=table.title, rows=[(key, without_paths(value)) for key, value in table.rows])
              for table in tables if table.rows]
    return AppendixView(
        tables=tables,
        history=[{str(key): fmt(value) for key, value in epoch.items()} for epoch in history],
        metric_notes=[str(note) for note in provenance.metric_notes],
        patch_ids=[str(image.patch_id) for image in document.images],
        config_json=without_paths(json.dumps(provenance.config, indent=2, sort_keys=True, default=str)))
