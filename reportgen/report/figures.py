"""Figures for the report as small, deterministic PNG data URIs.

Per-patch images (originals and overlays) are drawn with Pillow: 30 patches x
(1 + methods) images must render in well under a second, which matplotlib cannot
do.  Plots (mean curves, reliability diagram) use matplotlib's Agg backend with
the PNG ``Software`` metadata removed, so the same inputs give the same bytes.

Colour maps are perceptually uniform and colour-blind safe (viridis for maps,
Okabe-Ito colours for curves; Okabe & Ito, "Color Universal Design", 2008).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image

# Okabe-Ito palette: distinguishable under the common colour-vision deficiencies.
CURVE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
REFERENCE_COLOUR = "#777777"
MAP_COLOUR_MAP = "viridis"
OVERLAY_ALPHA = 0.6


@dataclass(frozen=True)
class FigureInputs:
    """Arrays the figures need that are not in the report document.

    Attributes
    ----------
    images : (N, H, W, 3) uint8
        The explained patches, in the order of ``document["images"]`` (96x96 for PCam).
    maps : dict of str to (N, H, W) float32 in [0, 1]
        Display map per method name, normalised per image to [0, 1].
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
        n_images : number of entries in ``document["images"]``.
        methods : method names in ``document["methods"]``; each needs a map.
        """
        images = np.asarray(self.images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"figure images must be (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
        if len(images) != n_images:
            raise ValueError(f"figure images hold {len(images)} patches but the document lists {n_images}")
        missing = [name for name in methods if name not in self.maps]
        if missing:
            raise ValueError(f"no display map for method(s) {', '.join(missing)}; pass one per method")
        for name, maps in self.maps.items():
            if np.shape(maps) != images.shape[:3]:
                raise ValueError(f"display maps for {name!r} are {np.shape(maps)}, expected {images.shape[:3]}")
        if self.masks is not None and np.shape(self.masks) != images.shape[:3]:
            raise ValueError(f"masks are {np.shape(self.masks)}, expected {images.shape[:3]}")


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
    """(256, 3) uint8 lookup table of a matplotlib colour map."""
    from matplotlib import colormaps

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


def overlay(image: np.ndarray, values: np.ndarray, *, alpha: float = OVERLAY_ALPHA,
            mask: np.ndarray | None = None) -> np.ndarray:
    """Blend a colourised map over a patch.

    Parameters
    ----------
    image : (H, W, 3) uint8 patch.
    values : (H, W) float in [0, 1] display map.
    alpha : weight of the map colour, default 0.6.
    mask : (H, W) uint8 or None; its outline is drawn in white when given.

    Returns
    -------
    (H, W, 3) uint8
    """
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colourise(values).astype(np.float32)
    out = np.round(blended).astype(np.uint8)
    if mask is not None:
        out[mask_outline(mask)] = 255
    return out


def patch_figures(figures: FigureInputs, methods: list[str]) -> list[dict[str, str]]:
    """Data URIs per patch: ``{"original": uri, "<method>": uri, ...}``.

    Parameters
    ----------
    figures : the arrays (see :class:`FigureInputs`).
    methods : method names, in display order.

    Returns
    -------
    list of N dicts of str to str
    """
    uris = []
    for index, image in enumerate(figures.images):
        mask = None if figures.masks is None else figures.masks[index]
        original = image if mask is None else overlay(image, np.zeros(image.shape[:2]), alpha=0.0, mask=mask)
        row = {"original": png_data_uri(encode_png(original))}
        for name in methods:
            row[name] = png_data_uri(encode_png(overlay(image, figures.maps[name][index], mask=mask)))
        uris.append(row)
    return uris


def colour_bar_uri(*, width: int = 128, height: int = 10, colour_map: str = MAP_COLOUR_MAP) -> str:
    """Horizontal colour bar, low on the left, as a PNG data URI."""
    ramp = np.tile(np.linspace(0.0, 1.0, width), (height, 1))
    return png_data_uri(encode_png(colourise(ramp, colour_map=colour_map)))


def _figure_png(figure) -> bytes:
    """PNG bytes of a matplotlib figure; the Software tag (matplotlib version) is dropped."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _new_figure(width_in: float, height_in: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(width_in, height_in))
    axes.tick_params(labelsize=7)
    return figure, axes


def curves_uri(curves: dict[str, list[float]], *, references: dict[str, list[float]], ylabel: str,
               title: str) -> str:
    """Mean deletion or insertion curves as one small plot.

    Parameters
    ----------
    curves : method title to its mean curve, steps + 1 probabilities.
    references : reference-map title to its mean curve, drawn dashed and grey.
    ylabel : y-axis label (the tracked probability).
    title : plot title.

    Returns
    -------
    str, PNG data URI
    """
    figure, axes = _new_figure(4.2, 2.6)
    styles = ("--", ":", "-.")
    for number, (name, curve) in enumerate(references.items()):
        x = np.linspace(0.0, 1.0, len(curve))
        axes.plot(x, curve, color=REFERENCE_COLOUR, linestyle=styles[number % len(styles)], linewidth=1.0, label=name)
    for number, (name, curve) in enumerate(curves.items()):
        x = np.linspace(0.0, 1.0, len(curve))
        axes.plot(x, curve, color=CURVE_COLOURS[number % len(CURVE_COLOURS)], linewidth=1.6, label=name)
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel("fraction of pixels changed", fontsize=8)
    axes.set_ylabel(ylabel, fontsize=8)
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=6, frameon=False, loc="best")
    figure.tight_layout()
    return png_data_uri(_figure_png(figure))


def reliability_uri(reliability: dict) -> str:
    """Reliability diagram (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017).

    Parameters
    ----------
    reliability : ``{"bin_edges": [B + 1], "accuracy": [B], "confidence": [B], "count": [B]}``;
        empty bins may hold ``None``.

    Returns
    -------
    str, PNG data URI
    """
    edges = np.asarray(reliability["bin_edges"], dtype=np.float64)
    accuracy = np.array([np.nan if v is None else v for v in reliability["accuracy"]], dtype=np.float64)
    counts = np.asarray(reliability.get("count", [0] * len(accuracy)), dtype=np.float64)
    figure, axes = _new_figure(3.0, 2.6)
    centres = (edges[:-1] + edges[1:]) / 2
    widths = np.diff(edges)
    filled = np.isfinite(accuracy) & (counts > 0)
    axes.bar(centres[filled], accuracy[filled], width=widths[filled] * 0.9, color=CURVE_COLOURS[0],
             label="observed accuracy")
    axes.plot([edges[0], edges[-1]], [edges[0], edges[-1]], color=REFERENCE_COLOUR, linestyle="--",
              linewidth=1.0, label="perfect calibration")
    axes.set_xlim(edges[0], edges[-1])
    axes.set_ylim(0.0, 1.0)
    axes.set_xlabel("confidence", fontsize=8)
    axes.set_ylabel("accuracy", fontsize=8)
    axes.legend(fontsize=6, frameon=False, loc="upper left")
    figure.tight_layout()
    return png_data_uri(_figure_png(figure))
