"""Judgement: every check, warning, finding, gate and comparison of a report, decided once from the document.

Each report section is one module here that reads the finished document and declares its page-one
checks (:class:`~reportgen.judgement.check.Check`) and warnings
(:class:`~reportgen.judgement.check.Finding`); :mod:`reportgen.judgement.sections` lists the sections in
report order, and everything else (the summary, the ``--fail-if`` gates, the comparison with a previous
report) reads what they decided.  Nothing here computes a measurement or renders anything; what a method
says about its own maps comes from the method (:meth:`reportgen.explain.base.Explainer.report_warnings`).

Public API (``document`` is a :class:`~reportgen.schema.ReportDocument`; setting one of its keys reads the value
into the key's record type, so the summary, a plain dict here, becomes a :class:`~reportgen.schema.Summary`)::

    checks = all_checks(document)
    document["summary"] = summarise_findings(document, checks)
    document.comparison = compare_reports(document, load_previous_report(path))
    document.gates = evaluate_gates([parse_gate(text) for text in fail_if], document, checks)
    document.summary.update(page_one(checks, document.gates))
"""

from reportgen.judgement.check import Check, Finding
from reportgen.judgement.compare import compare_reports, load_previous_report
from reportgen.judgement.gates import Gate, evaluate_gates, parse_gate
from reportgen.judgement.sections import Section, all_checks, register_section, sections, unregister_section
from reportgen.judgement.summary import page_one, page_one_checks, summarise_findings

__all__ = [
    "Check", "Finding", "Gate", "Section", "all_checks", "compare_reports", "evaluate_gates", "load_previous_report",
    "page_one", "page_one_checks", "parse_gate", "register_section", "sections", "summarise_findings", "unregister_section",
]
