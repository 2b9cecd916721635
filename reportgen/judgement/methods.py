"""The methods section's judgement: what each method says of its own maps, given what the report decided.

Each method states its warnings through :meth:`reportgen.explain.base.Explainer.report_warnings`; a method
that is not registered (an older report given to ``--compare``) states its recorded warnings as they are.
"""

from __future__ import annotations

from reportgen.data.label_region import applies
from reportgen.explain import list_stability_variants
from reportgen.explain.base import MethodStanding, explainer_class
from reportgen.judgement.check import Finding
from reportgen.judgement.reading import loses_to_random, method_title, patch_size
from reportgen.schema import ReportDocument


def standing(document: ReportDocument, name: str) -> MethodStanding:
    """What the report decided about method ``name``."""
    stability = document.stability
    variants = [] if stability is None else [getattr(stability, variant.name) for variant in list_stability_variants()]
    scored = any(record is not None and record.method == name for record in variants)
    return MethodStanding(title=method_title(document, name), not_better_than_random=tuple(loses_to_random(document, name)),
                          other_settings_scored=scored, patch_size=patch_size(document),
                          centre_decides=applies(document.data.label_region))


def findings(document: ReportDocument) -> list[Finding]:
    """Every method's warnings about its own maps (medium), method by method."""
    found = []
    for name, record in document.methods.items():
        for severity, text in explainer_class(name).report_warnings(record, standing(document, name)):
            found.append(Finding(severity, text, name))
    return found
