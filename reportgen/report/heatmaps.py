"""Matrices as annotated heatmaps: the confusion matrix and the agreement between methods.

Drawn like the other plots (:mod:`reportgen.report.figures`): vector SVG, the
report's font, sizes in millimetres as printed, reproducible bytes.  Every cell
carries its number, so the colour only guides the eye and the figure reads in
greyscale print too.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from reportgen.formatting import fmt
from reportgen.report.figures import MM, PLOT_STYLE, svg_data_uri

CONFUSION_SIZE_MM = (62.0, 52.0)
#: Width of one matrix cell and of the label margin of an agreement heatmap, in mm.
AGREEMENT_CELL_MM, AGREEMENT_MARGIN_MM = 14.0, 34.0


def _annotate(axes, values: np.ndarray, texts: list[list[str]], norm, *, diverging: bool) -> None:
    """Write each cell's text in black or white, whichever reads on its colour (a diverging map is dark at
    both ends, a sequential one at its top)."""
    for (row, column), value in np.ndenumerate(values):
        position = float(norm(value))
        dark = abs(position - 0.5) > 0.3 if diverging else position > 0.6
        axes.text(column, row, texts[row][column], ha="center", va="center", fontsize=8.0,
                  color="white" if dark else "#1b1b1b")


def _cells(axes, values: np.ndarray, *, cmap: str, vmin: float, vmax: float):
    """The matrix as vector cells (pcolormesh, not a raster image), row 0 at the top, cell centres at integers."""
    rows, columns = values.shape
    mesh = axes.pcolormesh(np.arange(columns + 1) - 0.5, np.arange(rows + 1) - 0.5, np.ma.masked_invalid(values),
                           cmap=cmap, vmin=vmin, vmax=vmax, edgecolors="white", linewidth=0.8)
    axes.set_xlim(-0.5, columns - 0.5)
    axes.set_ylim(rows - 0.5, -0.5)
    axes.set_aspect("equal")
    return mesh


def confusion_figure(matrix: list[list[int]]) -> Figure:
    """The 2x2 confusion matrix (rows: true class, columns: predicted), each cell's count and its share of the row.

    Parameters
    ----------
    matrix : ``[[TN, FP], [FN, TP]]`` counts.
    """
    counts = np.asarray(matrix, dtype=np.float64)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    with matplotlib.rc_context(PLOT_STYLE):
        figure = Figure(figsize=(CONFUSION_SIZE_MM[0] * MM, CONFUSION_SIZE_MM[1] * MM), layout="constrained")
        axes = figure.add_subplot()
        image = _cells(axes, shares, cmap="Blues", vmin=0.0, vmax=1.0)
        texts = [[f"{int(counts[r, c])}\n{100 * shares[r, c]:.1f} %" for c in range(2)] for r in range(2)]
        _annotate(axes, shares, texts, image.norm, diverging=False)
        axes.set_xticks([0, 1], ["normal (0)", "tumour (1)"])
        axes.set_yticks([0, 1], ["normal (0)", "tumour (1)"])
        axes.set(xlabel="predicted", ylabel="true")
        axes.grid(False)
        axes.tick_params(length=0)
        for spine in axes.spines.values():
            spine.set_visible(False)
    return figure


def confusion_uri(matrix: list[list[int]]) -> str:
    """:func:`confusion_figure` as an SVG data URI."""
    return svg_data_uri(confusion_figure(matrix))


def agreement_figure(values: list[list[float | None]], titles: list[str], *, signed: bool) -> Figure:
    """An n x n agreement matrix between methods, annotated to two decimals.

    Parameters
    ----------
    values : n x n matrix; ``None`` cells (not computed) are left blank.
    titles : the methods' titles, rows and columns alike.
    signed : True for a correlation in [-1, 1] (diverging colours centred at 0), False for a share in [0, 1].
    """
    array = np.array([[np.nan if v is None else float(v) for v in row] for row in values], dtype=np.float64)
    n = len(titles)
    side = AGREEMENT_MARGIN_MM + AGREEMENT_CELL_MM * n
    with matplotlib.rc_context(PLOT_STYLE):
        figure = Figure(figsize=(side * MM, (side - 8.0) * MM), layout="constrained")
        axes = figure.add_subplot()
        image = _cells(axes, array, cmap="RdBu_r" if signed else "Blues", vmin=-1.0 if signed else 0.0, vmax=1.0)
        texts = [["" if np.isnan(v) else fmt(v, 2) for v in row] for row in array]
        _annotate(axes, np.nan_to_num(array), texts, image.norm, diverging=signed)
        axes.set_xticks(range(n), titles, rotation=30, ha="right", rotation_mode="anchor")
        axes.set_yticks(range(n), titles)
        axes.grid(False)
        axes.tick_params(length=0)
        for spine in axes.spines.values():
            spine.set_visible(False)
    return figure


def agreement_uri(values: list[list[float | None]], titles: list[str], *, signed: bool) -> str:
    """:func:`agreement_figure` as an SVG data URI."""
    return svg_data_uri(agreement_figure(values, titles, signed=signed))
