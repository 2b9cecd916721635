"""The "Agreement" and "Localisation" sections' views: how far the methods' maps agree with each other, and
where each map puts its attribution, from the document's ``agreement`` and ``localisation`` records."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import fmt, fmt_interval
from reportgen.judgement.reading import method_title
from reportgen.report import heatmaps


@dataclass(frozen=True)
class MatrixView:
    """Square matrix of formatted numbers with row/column titles, and its heatmap."""

    titles: list[str]
    rows: list[list[str]]
    uri: str


def agreement_matrix(document: dict, key: str) -> MatrixView | None:
    """The methods' mean pairwise ``key`` (``spearman`` or ``iou_top10``) as a table and a heatmap, or ``None``."""
    agreement = document.get("agreement") or {}
    if not agreement.get(key):
        return None
    titles = [method_title(document, name) for name in agreement.get("methods", [])]
    return MatrixView(titles=titles, rows=[[fmt(value, 2) for value in row] for row in agreement[key]],
                      uri=heatmaps.agreement_uri(agreement[key], titles, signed=key == "spearman"))


def localisation_rows(document: dict) -> list[tuple[str, str, str, str]]:
    """(map, centre mass, pointing game, mass in mask) per map, each a mean with its interval."""
    return [(method_title(document, name), fmt_interval(record.get("centre_mass")),
             fmt_interval(record.get("pointing_game")), fmt_interval(record.get("mass_in_mask")))
            for name, record in (document.get("localisation") or {}).items()]
