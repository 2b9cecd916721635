"""report.json has one schema: the records of reportgen.schema, docs/report-json.md, and a real build agree."""

import dataclasses
import json
import pickle
import re
import types
import typing
from pathlib import Path

import pytest

from reportgen.cli import build_parser
from reportgen.schema import (
    REPORT_JSON_COMMAND,
    Check,
    MethodSection,
    ModelSection,
    ReportDocument,
    SanityMethod,
    readme_table,
    report_json_markdown,
    section_keys,
    to_json,
)

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
REPORT_JSON_DOC = ROOT / "docs" / "report-json.md"


def _mismatches(value, hint, path="report.json") -> list[str]:
    """Every place where ``value`` does not have the keys its type hint declares (recursively)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    # ``X | None`` is a types.UnionType, ``Optional[X]`` a typing.Union; both hold an optional section.
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return []
        (hint,) = [arg for arg in args if arg is not type(None)]
        return _mismatches(value, hint, path)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            return [f"{path} is {type(value).__name__}, not a {hint.__name__} record"]
        hints = {field.name: typing.get_type_hints(hint)[field.name] for field in dataclasses.fields(hint)
                 if not field.metadata.get("spread")}  # the document's records of sections registered beyond it
        problems = [f"{path} lacks {key!r}" for key in hints if key not in value]
        problems += [f"{path} has undeclared {key!r}" for key in value if key not in hints]
        for key in hints.keys() & value.keys():
            problems += _mismatches(value[key], hints[key], f"{path}.{key}")
        return problems
    if origin is list and isinstance(value, list):
        return [problem for i, item in enumerate(value) for problem in _mismatches(item, args[0], f"{path}[{i}]")]
    if origin is dict and isinstance(value, dict):
        return [problem for key, item in value.items() for problem in _mismatches(item, args[1], f"{path}.{key}")]
    return []


def test_docs_report_json_is_generated_from_the_schema():
    assert REPORT_JSON_DOC.read_text(encoding="utf-8") == report_json_markdown(), (
        f"docs/report-json.md differs from reportgen.schema; regenerate it: {REPORT_JSON_COMMAND}")
    assert readme_table() in report_json_markdown()


def test_a_real_build_has_exactly_the_keys_the_schema_declares(shared_build):
    document = json.loads((shared_build / "report.json").read_text())
    assert list(document) == section_keys(ReportDocument)
    assert _mismatches(document, ReportDocument) == []


def test_the_schema_check_can_fail(shared_build):
    document = json.loads((shared_build / "report.json").read_text())
    del document["sanity"]["methods"]["lime"]["final"]
    document["images"][0]["extra"] = 1
    assert sorted(_mismatches(document, ReportDocument)) == ["report.json.images[0] has undeclared 'extra'",
                                                             "report.json.sanity.methods.lime lacks 'final'"]


def _known_flags() -> set[str]:
    parser = build_parser()
    known = {option for action in parser._actions for option in action.option_strings}
    for sub in parser._subparsers._group_actions[0].choices.values():
        known |= {option for action in sub._actions for option in action.option_strings}
    return known


def test_every_flag_the_readme_names_exists():
    named = set(re.findall(r"`(--[a-z][a-z-]*)", README))
    assert named and named <= _known_flags(), f"README names flags that do not exist: {sorted(named - _known_flags())}"


def test_every_flag_the_docs_name_exists():
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md")))
    named = set(re.findall(r"`(--[a-z][a-z-]*)", text))
    assert named and named <= _known_flags(), f"docs/ names flags that do not exist: {sorted(named - _known_flags())}"


def test_report_json_reads_into_the_records_and_writes_back_byte_for_byte(shared_build):
    text = (shared_build / "report.json").read_text(encoding="utf-8")
    document = ReportDocument.from_json(json.loads(text))
    assert isinstance(document.model, ModelSection) and isinstance(document.summary.checks[0], Check)
    assert isinstance(document.methods["lime"], MethodSection) and document.methods["lime"].deletion_auc.ci95
    assert isinstance(document.sanity.methods["lime"], SanityMethod)
    assert document.data.label_region == "centre32"  # PCam's layout: the centre 32x32 decides the label
    assert json.dumps(to_json(document), indent=2) + "\n" == text
    assert pickle.loads(pickle.dumps(document)) == document


def test_an_earlier_report_reads_missing_keys_as_none_and_drops_keys_it_no_longer_has(shared_build):
    stored = json.loads((shared_build / "report.json").read_text(encoding="utf-8"))
    del stored["model"]["checkpoint"], stored["summary"]["checks"][0]["decide"]
    stored["sanity"]["methods"]["lime"]["explains"] = True
    document = ReportDocument.from_json(stored)
    assert document.model.checkpoint is None and document.summary.checks[0].decide is None
    assert "explains" not in to_json(document)["sanity"]["methods"]["lime"]
    with pytest.raises(TypeError, match="ModelSection is read from a JSON object, not list"):
        ReportDocument.from_json({**stored, "model": []})
