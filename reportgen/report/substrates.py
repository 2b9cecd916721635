"""The "Substrates" section's views: how far each substrate moves the model on its own, and the methods'
ranking under each substrate (``--compare-substrates``), from the document's ``substrate_scope`` and
``substrate_rankings`` records."""

from __future__ import annotations

from reportgen.formatting import MISSING, fmt_interval
from reportgen.judgement.reading import method_title
from reportgen.schema import ReportDocument


def substrate_drift_rows(document: ReportDocument) -> list[tuple[str, str, str, str]]:
    """(substrate, drift [interval], share of top-1 changes, the curves that use it) per substrate."""
    scope = document.substrate_scope
    rows = []
    for name, entry in ({} if scope is None else scope.substrates).items():
        changed = entry.top1_changed
        rows.append((name, fmt_interval(entry.drift), MISSING if changed is None else f"{100 * changed:.0f} %",
                     ", ".join(entry.used_for) or "-"))
    return rows


def substrate_rankings(document: ReportDocument) -> list[tuple[str, str, str, str]]:
    """(substrate, the methods ranked by deletion, by insertion and by SRG) per substrate compared
    (``--compare-substrates``; else no rows)."""
    return [(substrate, *(", ".join(method_title(document, n) for n in ranks.get(kind, []))
                          for kind in ("deletion", "insertion", "srg")))
            for substrate, ranks in (document.substrate_rankings or {}).items()]
