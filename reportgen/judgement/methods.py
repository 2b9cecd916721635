"""The methods section's judgement: what each method says of its own maps, given what the report decided.

Each method states its warnings through :meth:`reportgen.explain.base.Explainer.report_warnings`; a method
that is not registered (an older report given to ``--compare``) states its recorded warnings as they are.
"""

from __future__ import annotations

from reportgen.explain.base import MethodStanding, explainer_class
from reportgen.judgement.check import Finding
from reportgen.judgement.reading import loses_to_random, method_title
from reportgen.schema import Record


def standing(document: dict, name: str) -> MethodStanding:
    """What the report decided about method ``name``."""
    stability = document.get("stability") or {}
    scored = any(isinstance(table, Record) and table.get("method") == name for table in stability.values())
    return MethodStanding(title=method_title(document, name), not_better_than_random=tuple(loses_to_random(document, name)),
                          other_settings_scored=scored)


def findings(document: dict) -> list[Finding]:
    """Every method's warnings about its own maps (medium), method by method."""
    found = []
    for name, record in (document.get("methods") or {}).items():
        for severity, text in explainer_class(name).report_warnings(record, standing(document, name)):
            found.append(Finding(severity, text, name))
    return found
