"""Figures for the report as small, deterministic data URIs.

Per-patch images (originals and overlays) are PNGs drawn with Pillow: 30
patches x (1 + methods) images must render in well under a second.  Plots (mean
deletion/insertion curves, reliability diagram) are vector SVG drawn with
matplotlib's object-oriented API (``Figure`` and the SVG canvas: no pyplot, no
display), so they stay sharp in the PDF at any zoom.

Each plot is drawn at the width report.css prints it on A4, so the font sizes
here are the sizes on paper (8 pt and up).  Text is kept as SVG text in the
report's font, so the PDF's plots are searchable and copyable like the rest of
the page.  The same inputs give the same bytes: no date or version in the SVG,
and a fixed salt for its element ids.

Colour maps are perceptually uniform and colour-blind safe (matplotlib's viridis
for maps that are never negative, ColorBrewer's diverging RdBu, reversed so red is
positive, for signed maps; Okabe-Ito colours for curves; Okabe & Ito, "Color
Universal Design", 2008).  Each map is drawn on its own scale (:func:`map_scale`):
from 0 (or minus the limit, for a signed map) to the :data:`CLIP_PERCENTILE`-th
percentile of its |values|, the rule of captum's ``visualize_image_attr``, so a
few extreme pixels do not leave the rest of the map in one colour.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from functools import lru_cache

import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from PIL import Image

# Okabe-Ito palette: distinguishable under the common colour-vision deficiencies.
CURVE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
REFERENCE_COLOUR = "#666666"
MAP_COLOUR_MAP = "viridis"
#: Signed maps: blue negative, white 0, red positive (ColorBrewer RdBu is safe for colour-blind readers).
SIGNED_COLOUR_MAP = "RdBu_r"
#: A map's colour scale ends at this percentile of its |values| (captum's default ``outlier_perc=2``);
#: stronger values take the end colour.
CLIP_PERCENTILE = 98.0
OVERLAY_ALPHA = 0.6
#: Colour of the centre-region square on every patch picture (RGB); the mask outline is white.
CENTRE_SQUARE_COLOUR = (0, 255, 255)
# Reference maps share one grey; the dash pattern tells them apart, also in greyscale print.
REFERENCE_DASHES = ("--", ":", "-.")

MM = 1 / 25.4  # inches per millimetre: matplotlib sizes figures in inches
#: (width, height) in mm; the widths are those of ``figure.plot img`` in report.css's print rules,
#: so the plots print at their natural size (tests/test_report_html.py checks the two agree).
CURVES_SIZE_MM = (85.0, 80.0)
RELIABILITY_SIZE_MM = (65.0, 68.0)

PLOT_STYLE = {
    # Sizes in points at the printed size.
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica Neue", "Arial"],  # the report's own font stack
    "font.size": 8.0, "axes.titlesize": 9.0, "axes.labelsize": 8.5, "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0, "legend.fontsize": 8.0,
    "axes.linewidth": 0.6, "axes.edgecolor": "#333333", "axes.labelcolor": "#1b1b1b",
    "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#e4e4e4", "grid.linewidth": 0.5,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.major.size": 3.0, "ytick.major.size": 3.0,
    "xtick.color": "#333333", "ytick.color": "#333333",
    "legend.frameon": False, "legend.handlelength": 2.6, "legend.columnspacing": 1.2,
    "legend.borderaxespad": 0.2, "legend.labelspacing": 0.3,
    # Titles and labels come from the document: a "$" in them is a dollar sign, not mathtext.
    "text.parse_math": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "reportgen",
}
# No date and no creator (matplotlib's version), so the SVG bytes depend only on the inputs.
SVG_METADATA = {"Date": None, "Creator": None}
TICKS = np.linspace(0.0, 1.0, 6)


@dataclass(frozen=True)
class FigureInputs:
    """Arrays the figures need that are not in the report document.

    Attributes
    ----------
    images : (N, H, W, 3) uint8
        The explained patches, in the order of ``document.images`` (96x96 for PCam); an array or a
        dataset of ``attributions.h5`` (read one patch at a time, so the same for maps and masks).
    maps : dict of str to (N, H, W) float32
        Raw map per method name (signed where the method is signed); each is drawn on its own
        scale (:func:`map_scale`).
    masks : (N, H, W) uint8 or None, default None
        Ground-truth tumour masks (non-zero inside), drawn as an outline when given.
    """

    images: np.ndarray
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    masks: np.ndarray | None = None

    def check(self, *, n_images: int, methods: list[str]) -> None:
        """Raise ``ValueError`` when the arrays do not match the document.

        Parameters
        ----------
        n_images : number of entries in ``document.images``.
        methods : method names in ``document.methods``; each needs a map.
        """
        # Shape and dtype only: the arrays may be datasets of attributions.h5, read a patch at a time.
        shape, dtype = np.shape(self.images), getattr(self.images, "dtype", None)
        if len(shape) != 4 or shape[-1] != 3 or dtype != np.uint8:
            raise ValueError(f"figure images must be (N, H, W, 3) uint8, got {shape} {dtype}")
        if shape[0] != n_images:
            raise ValueError(f"figure images hold {shape[0]} patches but the document lists {n_images}")
        missing = [name for name in methods if name not in self.maps]
        if missing:
            raise ValueError(f"no display map for method(s) {', '.join(missing)}; pass one per method")
        for name, maps in self.maps.items():
            if np.shape(maps) != shape[:3]:
                raise ValueError(f"display maps for {name!r} are {np.shape(maps)}, expected {shape[:3]}")
        if self.masks is not None and np.shape(self.masks) != shape[:3]:
            raise ValueError(f"masks are {np.shape(self.masks)}, expected {shape[:3]}")


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` URI for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 image; no metadata, so the bytes are reproducible."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), mode="RGB").save(buffer, format="PNG", compress_level=9)
    return buffer.getvalue()


@lru_cache(maxsize=4)
def colour_lookup(name: str = MAP_COLOUR_MAP) -> np.ndarray:
    """(256, 3) uint8 lookup table of a matplotlib colour map: entry i is the colour at i / 255, rounded."""
    table = colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.round(table * 255).astype(np.uint8)


def colourise(values: np.ndarray, *, colour_map: str = MAP_COLOUR_MAP) -> np.ndarray:
    """Map values in [0, 1] to colours.

    Parameters
    ----------
    values : (H, W) float in [0, 1]; values outside are clipped, NaN counts as 0.
    colour_map : matplotlib colour-map name, default ``"viridis"``.

    Returns
    -------
    (H, W, 3) uint8
    """
    clean = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    index = np.round(np.clip(clean, 0.0, 1.0) * 255).astype(np.intp)
    return colour_lookup(colour_map)[index]


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels of a mask that touch the outside (4-neighbourhood)."""
    inside = np.asarray(mask) > 0
    padded = np.pad(inside, 1, mode="constant", constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return inside & ~interior


def centre_square(height: int, width: int) -> np.ndarray:
    """(H, W) bool: the one-pixel border of the centre region whose tumour decides a PCam label.

    PCam labels a 96x96 patch by its centre 32x32 (Veeling et al., 2018): the middle third of each side.
    """
    top, left = (height - height // 3) // 2, (width - width // 3) // 2
    bottom, right = top + height // 3 - 1, left + width // 3 - 1
    square = np.zeros((height, width), dtype=bool)
    square[[top, bottom], left : right + 1] = True
    square[top : bottom + 1, [left, right]] = True
    return square


def overlay(image: np.ndarray, values: np.ndarray, *, alpha: float = OVERLAY_ALPHA,
            mask: np.ndarray | None = None, colour_map: str = MAP_COLOUR_MAP, label_square: bool = True) -> np.ndarray:
    """Blend a colourised map over a patch.

    Parameters
    ----------
    image : (H, W, 3) uint8 patch.
    values : (H, W) float in [0, 1], positions on the colour map (:meth:`MapScale.positions`).
    alpha : weight of the map colour, default 0.6.
    mask : (H, W) uint8 or None; its outline is drawn in white when given.
    colour_map : matplotlib colour-map name, default ``"viridis"``.
    label_square : draw the centre region's square (:func:`centre_square`), default True: where the centre
        decides the label.

    Returns
    -------
    (H, W, 3) uint8.
    """
    colours = colourise(values, colour_map=colour_map).astype(np.float32)
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colours
    out = np.round(blended).astype(np.uint8)
    if mask is not None:
        out[mask_outline(mask)] = 255
    if label_square:
        out[centre_square(*out.shape[:2])] = CENTRE_SQUARE_COLOUR
    return out


@dataclass(frozen=True)
class MapScale:
    """The colour scale of one map on one patch.

    Attributes
    ----------
    signed : diverging scale from ``-limit`` (blue) through 0 (white) to ``limit`` (red); else
        sequential from 0 (dark purple) to ``limit`` (yellow).
    limit : the :data:`CLIP_PERCENTILE`-th percentile of the map's |values| (0 for a map that is 0 everywhere).
    clipped : share of the pixels beyond the limit, drawn in the end colour.
    """

    signed: bool
    limit: float
    clipped: float

    @property
    def colour_map(self) -> str:
        return SIGNED_COLOUR_MAP if self.signed else MAP_COLOUR_MAP

    def positions(self, values: np.ndarray) -> np.ndarray:
        """(H, W) positions in [0, 1] on the colour map: 0.5 is zero on a signed scale, 0 on a sequential one."""
        values = np.nan_to_num(np.asarray(values, dtype=np.float64))
        if self.limit <= 0:
            return np.full(values.shape, 0.5 if self.signed else 0.0)
        scaled = np.clip(values / self.limit, -1.0 if self.signed else 0.0, 1.0)
        return 0.5 + 0.5 * scaled if self.signed else scaled


def map_scale(values: np.ndarray, *, signed: bool, percentile: float = CLIP_PERCENTILE) -> MapScale:
    """The colour scale of one (H, W) raw map: its :data:`CLIP_PERCENTILE`-th percentile of |values| (default 98).

    The same rule for every method, signed or not: only whether the method's maps carry a sign
    (its registry record) chooses between the diverging and the sequential colour map.
    """
    magnitude = np.abs(np.nan_to_num(np.asarray(values, dtype=np.float64)))
    limit = float(np.percentile(magnitude, percentile))
    if limit <= 0:  # a map that is 0 on at least 98 % of the pixels: scale to what it has
        limit = float(magnitude.max())
    return MapScale(signed=signed, limit=limit, clipped=float((magnitude > limit).mean()) if limit > 0 else 0.0)


def map_scales(figures: FigureInputs, methods: list[str], *, signed=frozenset()) -> list[dict[str, MapScale]]:
    """Per patch, each method's :class:`MapScale`; ``signed`` names the methods whose maps carry a sign."""
    return [{name: map_scale(figures.maps[name][index], signed=name in signed) for name in methods}
            for index in range(len(figures.images))]


def patch_figures(figures: FigureInputs, methods: list[str], *, signed=frozenset(),
                  positions: list[int] | None = None, label_square: bool = True) -> dict[int, dict[str, str]]:
    """Data URIs per patch: ``{"original": uri, "<method>": uri, ...}``.

    Parameters
    ----------
    figures : the arrays (see :class:`FigureInputs`).
    methods : method names, in display order.
    signed : names of the methods whose maps carry a sign (drawn on the diverging scale), default none.
    positions : the patches to draw (the gallery's), default None: every patch.
    label_square : draw the square of the centre region that decides the label (default True, PCam's rule).

    Returns
    -------
    position -> dict of str to str; each map drawn on its :func:`map_scale`.
    """
    uris = {}
    scales_per_patch = map_scales(figures, methods, signed=signed)
    for index in range(len(figures.images)) if positions is None else positions:
        image, scales = figures.images[index], scales_per_patch[index]
        mask = None if figures.masks is None else figures.masks[index]
        original = overlay(image, np.zeros(image.shape[:2]), alpha=0.0, mask=mask, label_square=label_square)
        row = {"original": png_data_uri(encode_png(original))}
        for name in methods:
            scale = scales[name]
            picture = overlay(image, scale.positions(figures.maps[name][index]), mask=mask,
                              colour_map=scale.colour_map, label_square=label_square)
            row[name] = png_data_uri(encode_png(picture))
        uris[index] = row
    return uris


def colour_bar_uri(*, width: int = 128, height: int = 10, colour_map: str = MAP_COLOUR_MAP) -> str:
    """Horizontal colour bar, low on the left, as a PNG data URI."""
    ramp = np.tile(np.linspace(0.0, 1.0, width), (height, 1))
    return png_data_uri(encode_png(colourise(ramp, colour_map=colour_map)))


# --------------------------------------------------------------------------- plots


def svg_data_uri(figure: Figure) -> str:
    """``data:image/svg+xml;base64,...`` URI of a figure, at its own size, with reproducible bytes."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(PLOT_STYLE):
        FigureCanvasSVG(figure).print_svg(buffer, metadata=SVG_METADATA)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(size_mm: tuple[float, float]) -> Figure:
    # Constrained layout fits labels and the outside legend into the figure without changing its size.
    return Figure(figsize=(size_mm[0] * MM, size_mm[1] * MM), layout="constrained")


def _unit_axes(axes, *, x_range: tuple[float, float] = (0.0, 1.0)) -> None:
    """Both axes over their data range with six ticks each, grid behind the data."""
    low, high = x_range
    axes.set_xlim(low, high)
    axes.set_ylim(0.0, 1.0)
    axes.set_xticks(low + TICKS * (high - low))
    axes.set_yticks(TICKS)
    axes.set_axisbelow(True)


def curves_figure(curves: dict[str, list[float]], *, references: dict[str, list[float]], xlabel: str, ylabel: str,
                  title: str) -> Figure:
    """Mean deletion or insertion curves of the methods, over those of the reference maps.

    Parameters
    ----------
    curves : method title to its mean curve, steps + 1 probabilities at evenly spaced fractions in [0, 1].
    references : reference-map title to its mean curve, drawn thinner, grey and dashed.
    xlabel : x-axis label (what the fraction counts, e.g. ``"fraction of pixels deleted"``).
    ylabel : y-axis label (the tracked probability).
    title : plot title.

    Returns
    -------
    matplotlib.figure.Figure
        ``CURVES_SIZE_MM`` in size; the legend is below the axes, methods first, then reference maps.
    """
    with matplotlib.rc_context(PLOT_STYLE):
        figure = _figure(CURVES_SIZE_MM)
        axes = figure.add_subplot()
        for number, (name, curve) in enumerate(curves.items()):
            values = np.asarray(curve, dtype=np.float64)
            # Unclipped: a curve at exactly 0 or 1 keeps its full stroke on the axis line.
            axes.plot(np.linspace(0.0, 1.0, len(values)), values, color=CURVE_COLOURS[number % len(CURVE_COLOURS)],
                      linewidth=1.5, label=name, zorder=3, clip_on=False)
        for number, (name, curve) in enumerate(references.items()):
            values = np.asarray(curve, dtype=np.float64)
            axes.plot(np.linspace(0.0, 1.0, len(values)), values, color=REFERENCE_COLOUR, linewidth=1.0,
                      linestyle=REFERENCE_DASHES[number % len(REFERENCE_DASHES)], label=name, zorder=2, clip_on=False)
        _unit_axes(axes)
        axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
        # Outside the axes, so it never covers a curve; two columns keep it short, unless long
        # titles would then run past the figure's edges.
        legend = figure.legend(loc="outside lower center", ncols=2)
        if legend.get_window_extent().width > figure.bbox.width:
            legend.remove()
            figure.legend(loc="outside lower center", ncols=1)
    return figure


def curves_uri(curves: dict[str, list[float]], *, references: dict[str, list[float]], xlabel: str, ylabel: str,
               title: str) -> str:
    """:func:`curves_figure` as an SVG data URI."""
    return svg_data_uri(curves_figure(curves, references=references, xlabel=xlabel, ylabel=ylabel, title=title))


def reliability_figure(reliability: dict) -> Figure:
    """Reliability diagram (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017).

    Parameters
    ----------
    reliability : ``{"bin_edges": [B + 1], "accuracy": [B], "confidence": [B], "count": [B]}``;
        empty bins may hold ``None`` and get no bar.

    Returns
    -------
    matplotlib.figure.Figure
        ``RELIABILITY_SIZE_MM`` in size: one bar per filled bin with its patch count over it, the diagonal
        of perfect calibration, legend below the axes.
    """
    edges = np.asarray(reliability["bin_edges"], dtype=np.float64)
    accuracy = np.array([np.nan if v is None else v for v in reliability["accuracy"]], dtype=np.float64)
    counts = np.asarray(reliability.get("count", [0] * len(accuracy)), dtype=np.float64)
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    filled = np.isfinite(accuracy) & (counts > 0)
    low, high = float(edges[0]), float(edges[-1])
    with matplotlib.rc_context(PLOT_STYLE):
        figure = _figure(RELIABILITY_SIZE_MM)
        axes = figure.add_subplot()
        bars = axes.bar(centres[filled], accuracy[filled], width=0.9 * widths[filled], color=CURVE_COLOURS[0],
                        label="observed accuracy", zorder=2)
        # Each bar's patch count over it: a bar of 3 patches and one of 300 should not read alike.
        axes.bar_label(bars, labels=[f"{int(count)}" for count in counts[filled]], padding=1.0, rotation=90,
                       color="#333333")
        # Perfect calibration is accuracy = confidence: the line y = x over the bins' range
        # ([0.5, 1] for a binary classifier), so it starts at (0.5, 0.5).
        (diagonal,) = axes.plot([low, high], [low, high], color=REFERENCE_COLOUR, linewidth=1.0, linestyle="--",
                                label="perfect calibration", zorder=3)
        _unit_axes(axes, x_range=(low, high))
        axes.set_ylim(0.0, 1.3)  # room for the counts over full bars; the ticks stay at 0 to 1
        axes.set(xlabel="confidence (predicted probability)", ylabel="accuracy (fraction correct)")
        figure.legend(handles=[bars, diagonal], loc="outside lower center", ncols=1)
    return figure


def reliability_uri(reliability: dict) -> str:
    """:func:`reliability_figure` as an SVG data URI."""
    return svg_data_uri(reliability_figure(reliability))
