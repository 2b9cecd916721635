"""What changed since the previous report: model, accuracy, AUCs, where the evidence lies, patches, warnings.

The result of :func:`compare_reports` is stored as ``document.comparison`` and
rendered as "Changes since the previous report".  Gates (:mod:`reportgen.judgement.gates`)
read it to fail scheduled runs whose explanations got worse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reportgen.errors import ConfigError
from reportgen.judgement.measures import METHOD_MEASURES, MODEL_MEASURES, method_measure, model_measure
from reportgen.judgement.reading import method_title, model_accuracy
from reportgen.judgement.rule import FAIL, INCONCLUSIVE, PASS
from reportgen.schema import SCHEMA_VERSION, Interval, MethodSection, ReportDocument
from reportgen.schema import Check as CheckRecord

AUC_KEYS = ("deletion_auc", "insertion_auc")


def load_previous_report(path: str | Path) -> ReportDocument:
    """Read a previous ``report.json``.

    Parameters
    ----------
    path : path to a report.json written by reportgen.

    Returns
    -------
    ReportDocument, the earlier run's document read into the same records as this run's

    Raises
    ------
    ConfigError
        When the file is missing, unreadable, not JSON, not a report document, or
        written by a newer schema than this version of reportgen reads.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"previous report {path} does not exist; pass the report.json of an earlier run") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"previous report {path} cannot be read ({error.__class__.__name__}); "
                          "check the path and its permissions") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"previous report {path} is not valid JSON (line {error.lineno}: {error.msg}); "
                          "pass the report.json of an earlier run") from None
    if not isinstance(document, dict) or not isinstance(document.get("schema_version"), int):
        raise ConfigError(f"previous report {path} has no integer schema_version; "
                          "pass a report.json written by reportgen")
    if document["schema_version"] > SCHEMA_VERSION:
        raise ConfigError(f"previous report {path} has schema_version {document['schema_version']}, newer than "
                          f"{SCHEMA_VERSION}; upgrade reportgen or compare with an older report")
    try:
        return ReportDocument.from_json(document)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"previous report {path} is not a report document ({error}); "
                          "pass the report.json of an earlier run") from None


def _auc_record(record: Interval | None) -> dict | None:
    if record is None or record.mean is None:
        return None
    mean = float(record.mean)
    ci95 = [float(v) for v in (record.ci95 if record.ci95 is not None else [mean, mean])]
    return {"mean": mean, "ci95": ci95}


def _method_auc(methods: dict[str, MethodSection], name: str, key: str) -> dict | None:
    """Method ``name``'s AUC ``key`` as ``{"mean", "ci95"}``, or None where the report lacks it."""
    record = methods.get(name)
    return None if record is None else _auc_record(getattr(record, key))


def _difference(current: float | None, previous: float | None) -> float | None:
    return None if current is None or previous is None else current - previous


def compare_methods(current: ReportDocument, previous: ReportDocument) -> list[dict[str, Any]]:
    """Deletion/insertion AUC of each method in either report, with both intervals and the change.

    Returns
    -------
    list of ``{"name", "title", "status": "both"|"new"|"removed", "deletion_auc": change,
    "insertion_auc": change}`` where change is ``{"previous": {"mean", "ci95"} | None,
    "current": ... | None, "change": float | None}``.
    """
    now, before = current.methods, previous.methods or {}
    names = list(now) + [name for name in before if name not in now]
    rows = []
    for name in names:
        status = "both" if name in now and name in before else ("new" if name in now else "removed")
        row = {"name": name, "title": method_title(current if name in now else previous, name), "status": status}
        for key in AUC_KEYS:
            was, is_now = _method_auc(before, name, key), _method_auc(now, name, key)
            row[key] = {"previous": was, "current": is_now,
                        "change": _difference(is_now and is_now["mean"], was and was["mean"])}
        rows.append(row)
    return rows


def compare_evidence(current: ReportDocument, previous: ReportDocument) -> list[dict[str, Any]]:
    """Where the evidence moved: each method's attribution in the centre and the mask, and the model's checks.

    AUCs can improve while the evidence leaves the region the label is about (a model
    that learnt a marker in the periphery); these rows show that move.

    Returns
    -------
    list of ``{"quantity", "label", "method" (None for the model's), "title", "previous", "current",
    "change"}``, per-method rows first (methods of either report, quantities in
    :data:`METHOD_MEASURES` order), then the model's (:data:`MODEL_MEASURES`); a row is kept
    when either report holds the value, and ``change`` is None unless both do.
    """
    now, before = current.methods, previous.methods or {}
    rows = []
    for name in list(now) + [name for name in before if name not in now]:
        for quantity, (_, label) in METHOD_MEASURES.items():
            is_now, was = method_measure(current, name, quantity), method_measure(previous, name, quantity)
            if is_now is not None or was is not None:
                rows.append({"quantity": quantity, "label": label, "method": name,
                             "title": method_title(current if name in now else previous, name),
                             "previous": was, "current": is_now, "change": _difference(is_now, was)})
    for quantity, label in MODEL_MEASURES.items():
        is_now, was = model_measure(current, quantity), model_measure(previous, quantity)
        if is_now is not None or was is not None:
            rows.append({"quantity": quantity, "label": label, "method": None, "title": "Model",
                         "previous": was, "current": is_now, "change": _difference(is_now, was)})
    return rows


def compare_patches(current: ReportDocument, previous: ReportDocument) -> tuple[int, list[dict[str, Any]]]:
    """Per-patch AUC changes for patch ids present in both reports, largest change first.

    Returns
    -------
    shared : number of patch ids in both reports.
    changes : list of ``{"patch_id", "method", "metric", "previous", "current", "change"}``;
        ties in size keep patch, method, metric order.
    """
    before = {image.patch_id: image for image in previous.images or [] if image.patch_id is not None}
    changes = []
    shared = 0
    for image in current.images:
        old = before.get(image.patch_id)
        if old is None:
            continue
        shared += 1
        for method, scores in image.per_method.items():
            old_scores = (old.per_method or {}).get(method)
            if old_scores is None:
                continue
            for key in AUC_KEYS:
                value, old_value = getattr(scores, key), getattr(old_scores, key)
                if value is None or old_value is None:
                    continue
                changes.append({"patch_id": image.patch_id, "method": method, "metric": key,
                                "previous": float(old_value), "current": float(value),
                                "change": float(value) - float(old_value)})
    changes.sort(key=lambda row: -abs(row["change"]))
    return shared, changes


def _earlier_summary(document: ReportDocument) -> tuple[list[CheckRecord], list[str]]:
    """An earlier report's page-one checks and warnings (empty where it lacks them)."""
    summary = document.summary
    if summary is None:
        return [], []
    return summary.checks or [], summary.warnings or []


def compare_outcomes(current: ReportDocument, previous: ReportDocument) -> list[dict[str, str | None]]:
    """Page-one checks whose outcome changed, by check name, failures now first: the first thing a reviewer of a
    scheduled run reads.

    Returns
    -------
    list of ``{"check", "previous", "current"}``; an outcome is ``None`` where the check is in one report only.
    """
    before = {row.check: row.outcome for row in _earlier_summary(previous)[0]}
    now = {row.check: row.outcome for row in current.summary.checks}
    changed = [{"check": name, "previous": before.get(name), "current": now.get(name)}
               for name in [*now, *(name for name in before if name not in now)]
               if before.get(name) != now.get(name)]
    rank = {FAIL: 0, INCONCLUSIVE: 1, PASS: 2, None: 3}
    return sorted(changed, key=lambda row: rank.get(row["current"], 3))


def compare_reports(current: ReportDocument, previous: ReportDocument) -> dict[str, Any]:
    """Changes since the previous report, for ``document.comparison``.

    Parameters
    ----------
    current : this run's document (its ``summary`` should already be filled).
    previous : the earlier run's document, e.g. from :func:`load_previous_report`.

    Returns
    -------
    dict
        ``{"previous_generated_at", "previous_title", "schema_versions": {"current", "previous"},
        "compatible": bool, "note": str | None, "outcomes": [...] (see :func:`compare_outcomes`),
        "model": {"previous_sha256", "current_sha256", "changed"},
        "accuracy": {"previous", "current", "change"},
        "methods": [...] (see :func:`compare_methods`), "evidence": [...] (see :func:`compare_evidence`),
        "shared_patches": int,
        "patches": [...] (see :func:`compare_patches`),
        "new_warnings": [str], "resolved_warnings": [str]}``.
        When the schema versions differ only the model, accuracy and warnings are
        compared and ``note`` says so.
    """
    current_version, previous_version = current.schema_version, previous.schema_version
    compatible = current_version == previous_version
    note = None if compatible else (
        f"The previous report uses schema version {previous_version} and this one {current_version}; "
        "only the model, the accuracy and the warnings are compared.")
    current_hash = current.model.checkpoint.sha256
    previous_checkpoint = None if previous.model is None else previous.model.checkpoint
    previous_hash = None if previous_checkpoint is None else previous_checkpoint.sha256
    accuracy_now, accuracy_before = model_accuracy(current), model_accuracy(previous)
    warnings_now = list(current.summary.warnings)
    warnings_before = list(_earlier_summary(previous)[1])
    shared, patches = compare_patches(current, previous) if compatible else (0, [])
    return {
        "previous_generated_at": previous.generated_at,
        "previous_title": previous.title,
        "schema_versions": {"current": current_version, "previous": previous_version},
        "compatible": compatible,
        "note": note,
        "outcomes": compare_outcomes(current, previous),
        "model": {"previous_sha256": previous_hash, "current_sha256": current_hash,
                  "changed": current_hash != previous_hash},
        "accuracy": {"previous": accuracy_before, "current": accuracy_now,
                     "change": _difference(accuracy_now, accuracy_before)},
        "methods": compare_methods(current, previous) if compatible else [],
        "evidence": compare_evidence(current, previous) if compatible else [],
        "shared_patches": shared,
        "patches": patches,
        "new_warnings": [text for text in warnings_now if text not in warnings_before],
        "resolved_warnings": [text for text in warnings_before if text not in warnings_now],
    }
