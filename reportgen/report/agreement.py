"""The "Agreement" and "Localisation" sections' views: how far the methods' maps agree with each other, and
where each map puts its attribution, from the document's ``agreement`` and ``localisation`` records."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import fmt, fmt_interval
from reportgen.judgement.reading import method_title
from reportgen.report import heatmaps
from reportgen.schema import ReportDocument


@dataclass(frozen=True)
class MatrixView:
    """Square matrix of formatted numbers with row/column titles, and its heatmap."""

    titles: list[str]
    rows: list[list[str]]
    uri: str


def agreement_matrix(document: ReportDocument, key: str) -> MatrixView | None:
    """The methods' mean pairwise ``key`` (``spearman`` or ``iou_top10``) as a table and a heatmap, or ``None``."""
    # A document may lack the section (the report then leaves it out, reportgen.report.sections).
    agreement = document.agreement
    matrix = None if agreement is None else getattr(agreement, key)
    if not matrix:
        return None
    titles = [method_title(document, name) for name in agreement.methods]
    return MatrixView(titles=titles, rows=[[fmt(value, 2) for value in row] for row in matrix],
                      uri=heatmaps.agreement_uri(matrix, titles, signed=key == "spearman"))


def localisation_rows(document: ReportDocument) -> list[tuple[str, str, str, str]]:
    """(map, centre mass, pointing game, mass in mask) per map, each a mean with its interval."""
    return [(method_title(document, name), fmt_interval(record.centre_mass),
             fmt_interval(record.pointing_game), fmt_interval(record.mass_in_mask))
            for name, record in (document.localisation or {}).items()]
