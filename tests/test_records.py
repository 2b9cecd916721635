"""The document is typed records, and the product reads them as such: by attribute, never as a mapping.

A record also reads like the JSON object it writes (``record["key"]``), for templates, tests and tools written
against report.json; the product itself (everything under reportgen/ but the codec) must not, so that a field
renamed in the schema fails where it is read instead of reading as ``None``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from gold.fixture import make_figures, make_previous, make_record

from reportgen.config import resolve_config
from reportgen.judgement import parse_gate
from reportgen.judgement.compare import load_previous_report
from reportgen.pipeline.document import assemble_document
from reportgen.pipeline.output import write_outputs
from reportgen.report.render import render_html
from reportgen.schema import ReportDocument, Summary, to_json
from reportgen.schema.record import Record

PACKAGE = Path(__file__).resolve().parents[1] / "reportgen"
MAPPING_METHODS = ("__getitem__", "get", "__contains__", "items", "keys", "values", "__iter__", "__setitem__",
                   "update")


@pytest.fixture
def mapping_reads(monkeypatch) -> list[str]:
    """``file:line method`` of every mapping access to a record from reportgen/ (the codec excepted)."""
    found: list[str] = []

    def watched(name):
        original = getattr(Record, name)

        def wrapper(self, *args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(str(PACKAGE)) and not caller.endswith("record.py"):
                found.append(f"{Path(caller).relative_to(PACKAGE.parent)}:{sys._getframe(1).f_lineno} {name}")
            return original(self, *args, **kwargs)

        return wrapper

    for name in MAPPING_METHODS:
        monkeypatch.setattr(Record, name, watched(name))
    return found


def test_the_product_reads_the_document_by_attribute(mapping_reads, tmp_path):
    previous = assemble_document(make_record(3, seed=1))
    (tmp_path / "previous.json").write_text(json.dumps(to_json(make_previous(previous))), encoding="utf-8")
    gates = [parse_gate(text) for text in ("accuracy<0.9", "beats_random_not_passed", "stain_failed")]
    document = assemble_document(make_record(3), previous=load_previous_report(tmp_path / "previous.json"),
                                 gates=gates)
    render_html(document, make_figures(3))
    write_outputs(tmp_path, document, resolve_config(flag_values={}))
    assert document.comparison is not None and len(document.gates) == 3  # the run went through every part
    assert mapping_reads == []


def test_the_watch_sees_a_mapping_read(mapping_reads):
    document = assemble_document(make_record(3))
    assert mapping_reads == []
    # A read from the product's own code is seen (a test's own reads are not).
    assert document["summary"] is document.summary and not mapping_reads
    code = compile("record.get('verdict')", str(PACKAGE / "judgement" / "probe.py"), "eval")
    eval(code, {"record": document.summary})
    assert mapping_reads == ["reportgen/judgement/probe.py:1 get"]


def test_a_record_is_typed_all_the_way_down():
    document = assemble_document(make_record(3))
    assert isinstance(document, ReportDocument) and isinstance(document.summary, Summary)
    assert document.summary.checks and all(type(row).__name__ == "Check" for row in document.summary.checks)
    assert type(document.methods["lime"].deletion_auc).__name__ == "Interval"
    with pytest.raises(AttributeError):
        document.methods["lime"].deletion_aucc  # noqa: B018 - a misspelt field is an error, not None
