"""Small SVG charts for the report: the mean deletion/insertion curves and the reliability diagram.

Written directly as SVG text rather than drawn with matplotlib: importing
matplotlib and rasterising three plots cost about 1.5 s of every render, a
large share of regenerating a report from the cache.  SVG is also vector
(sharp in the PDF at any zoom), a few kilobytes, and the same bytes on every
machine (no font rasteriser or zlib build involved).

Coordinates are in SVG user units (1 unit = 1 CSS px at the natural size).
The plot is a unit square in data space, [0, 1] x [0, 1] unless ``x_range`` or
``y_range`` say otherwise; every text is XML-escaped, so titles from the
report document cannot inject markup.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

FONT = "DejaVu Sans, Helvetica Neue, Arial, sans-serif"
AXIS_COLOUR = "#333333"
GRID_COLOUR = "#e4e4e4"
TICKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class Series:
    """One line: ``values`` at evenly spaced x over the x range (a curve of ``steps + 1`` points).

    Attributes
    ----------
    label : legend text.
    values : y values, in order of x.
    colour : stroke colour (``"#RRGGBB"``).
    width : stroke width in user units.
    dash : SVG ``stroke-dasharray`` (``""`` for a solid line).
    """

    label: str
    values: tuple[float, ...]
    colour: str
    width: float = 1.6
    dash: str = ""


@dataclass(frozen=True)
class Bar:
    """One bar from ``left`` to ``right`` in x, from 0 to ``height`` in y."""

    left: float
    right: float
    height: float


def svg_data_uri(svg: str) -> str:
    """``data:image/svg+xml;base64,...`` URI for an SVG document."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _text(x: float, y: float, text: str, *, size: float, anchor: str = "middle", rotate: bool = False,
          colour: str = AXIS_COLOUR) -> str:
    transform = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{colour}"{transform}>'
            f"{escape(text)}</text>")


def chart(*, width: int, height: int, title: str, xlabel: str, ylabel: str, series: list[Series] = (),
          bars: list[Bar] = (), bar_colour: str = "#0072B2", bar_label: str = "", legend: str = "right",
          x_range: tuple[float, float] = (0.0, 1.0), y_range: tuple[float, float] = (0.0, 1.0)) -> str:
    """An SVG chart: axes with ticks at 0, 0.2, ..., 1 of each range, grid, optional bars, lines and a legend.

    Parameters
    ----------
    width, height : natural size in user units (CSS px).
    title : drawn above the plot ("" for none).
    xlabel, ylabel : axis labels.
    series : lines, drawn in order over the bars.
    bars : bars in data coordinates, filled with ``bar_colour``; ``bar_label`` names them in the legend.
    legend : ``"right"`` (a column beside the plot) or ``"inside"`` (top left inside the plot).
    x_range, y_range : data range of each axis.

    Returns
    -------
    str, a complete SVG document.
    """
    entries = ([("bar", bar_label, bar_colour, 0.0, "")] if bars and bar_label else [])
    entries += [("line", line.label, line.colour, line.width, line.dash) for line in series]
    legend_width = 132 if legend == "right" and entries else 0
    left, right = 48.0, width - 8.0 - legend_width
    top, bottom = (22.0 if title else 8.0), height - 36.0
    (x0, x1), (y0, y1) = x_range, y_range

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (right - left)

    def py(y: float) -> float:
        return bottom - (min(max(y, y0), y1) - y0) / (y1 - y0) * (bottom - top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family={quoteattr(FONT)}>',
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    for tick in TICKS:
        x, y = px(x0 + tick * (x1 - x0)), py(y0 + tick * (y1 - y0))
        parts.append(f'<path d="M{x:.1f} {top:.1f}V{bottom:.1f}M{left:.1f} {y:.1f}H{right:.1f}" '
                     f'stroke="{GRID_COLOUR}" stroke-width="0.6"/>')
        parts.append(f'<path d="M{x:.1f} {bottom:.1f}v3M{left:.1f} {y:.1f}h-3" stroke="{AXIS_COLOUR}" '
                     f'stroke-width="0.8"/>')
        parts.append(_text(x, bottom + 13, f"{x0 + tick * (x1 - x0):.1f}", size=9.5))
        parts.append(_text(left - 5, y + 3.5, f"{y0 + tick * (y1 - y0):.1f}", size=9.5, anchor="end"))
    for bar in bars:
        parts.append(f'<rect x="{px(bar.left):.1f}" y="{py(bar.height):.1f}" width="{px(bar.right) - px(bar.left):.1f}" '
                     f'height="{bottom - py(bar.height):.1f}" fill="{bar_colour}"/>')
    for line in series:
        count = len(line.values)
        points = " ".join(f"{px(x0 + (x1 - x0) * i / max(count - 1, 1)):.1f},{py(float(v)):.1f}"
                          for i, v in enumerate(line.values))
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{line.colour}" '
                     f'stroke-width="{line.width}"{dash} stroke-linejoin="round"/>')
    parts.append(f'<rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" height="{bottom - top:.1f}" '
                 f'fill="none" stroke="{AXIS_COLOUR}" stroke-width="0.8"/>')
    if title:
        parts.append(_text((left + right) / 2, 14, title, size=12))
    parts.append(_text((left + right) / 2, height - 6, xlabel, size=11))
    parts.append(_text(12, (top + bottom) / 2, ylabel, size=11, rotate=True))
    legend_x = right + 10 if legend == "right" else left + 6
    legend_y = top + 8 if legend == "right" else top + 10
    if legend != "right" and entries:
        # Inside the plot the legend gets a light backing so bars and lines under it stay readable.
        parts.append(f'<rect x="{legend_x - 3:.1f}" y="{legend_y - 8:.1f}" width="124" height="{13 * len(entries) + 4}" '
                     'fill="#ffffff" fill-opacity="0.85"/>')
    for number, (kind, label, colour, stroke, dash) in enumerate(entries):
        y = legend_y + 13 * number
        if kind == "bar":
            parts.append(f'<rect x="{legend_x:.1f}" y="{y - 4:.1f}" width="16" height="7" fill="{colour}"/>')
        else:
            dashing = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(f'<path d="M{legend_x:.1f} {y:.1f}h16" stroke="{colour}" stroke-width="{stroke}"{dashing}/>')
        parts.append(_text(legend_x + 20, y + 3, label, size=8.5, anchor="start"))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
