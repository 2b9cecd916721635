"""Figures for the report as small, deterministic data URIs.

Per-patch images (originals and overlays) are PNGs drawn with Pillow: 30
patches x (1 + methods) images must render in well under a second.  Plots (mean
curves, reliability diagram) are SVG written by :mod:`reportgen.report.svgplot`
rather than drawn with matplotlib, whose import and rasterising cost about 1.5 s
of every render; the same inputs give the same bytes on every machine.

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

from reportgen.report.svgplot import Bar, Series, chart, svg_data_uri

# Okabe-Ito palette: distinguishable under the common colour-vision deficiencies.
CURVE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
REFERENCE_COLOUR = "#777777"
MAP_COLOUR_MAP = "viridis"
OVERLAY_ALPHA = 0.6
REFERENCE_DASHES = ("6 3", "1.5 2", "6 2 1.5 2")

#: matplotlib's viridis as 256 RGB triples (round(255 * colour)), so overlays need no matplotlib import;
#: tests/test_report_html.py checks it against matplotlib's own table.
VIRIDIS_HEX = (
    "44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668481769"
    "48186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a"
    "472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f85"
    "4240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b"
    "3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d"
    "33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e"
    "2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e"
    "26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d"
    "21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f88"
    "1fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad81"
    "28ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc74"
    "3fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc863"
    "5ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d"
    "84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32"
    "addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a"
    "d8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725"
)


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
    """(256, 3) uint8 lookup table of a matplotlib colour map (viridis built in, others from matplotlib)."""
    if name == "viridis":
        return np.frombuffer(bytes.fromhex("".join(VIRIDIS_HEX)), dtype=np.uint8).reshape(256, 3).copy()
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


def curves_uri(curves: dict[str, list[float]], *, references: dict[str, list[float]], ylabel: str,
               title: str) -> str:
    """Mean deletion or insertion curves as one small SVG plot.

    Parameters
    ----------
    curves : method title to its mean curve, steps + 1 probabilities.
    references : reference-map title to its mean curve, drawn dashed and grey.
    ylabel : y-axis label (the tracked probability).
    title : plot title.

    Returns
    -------
    str, SVG data URI
    """
    lines = [Series(name, tuple(float(v) for v in curve), REFERENCE_COLOUR, width=1.0,
                    dash=REFERENCE_DASHES[number % len(REFERENCE_DASHES)])
             for number, (name, curve) in enumerate(references.items())]
    lines += [Series(name, tuple(float(v) for v in curve), CURVE_COLOURS[number % len(CURVE_COLOURS)])
              for number, (name, curve) in enumerate(curves.items())]
    return svg_data_uri(chart(width=420, height=260, title=title, xlabel="fraction of pixels changed",
                              ylabel=ylabel, series=lines, legend="right"))


def reliability_uri(reliability: dict) -> str:
    """Reliability diagram (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017).

    Parameters
    ----------
    reliability : ``{"bin_edges": [B + 1], "accuracy": [B], "confidence": [B], "count": [B]}``;
        empty bins may hold ``None``.

    Returns
    -------
    str, SVG data URI
    """
    edges = np.asarray(reliability["bin_edges"], dtype=np.float64)
    accuracy = np.array([np.nan if v is None else v for v in reliability["accuracy"]], dtype=np.float64)
    counts = np.asarray(reliability.get("count", [0] * len(accuracy)), dtype=np.float64)
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    filled = np.isfinite(accuracy) & (counts > 0)
    bars = [Bar(float(c - 0.45 * w), float(c + 0.45 * w), float(a))
            for c, w, a in zip(centres[filled], widths[filled], accuracy[filled])]
    diagonal = Series("perfect calibration", (0.0, 1.0), REFERENCE_COLOUR, width=1.0, dash="6 3")
    return svg_data_uri(chart(width=300, height=260, title="", xlabel="confidence", ylabel="accuracy",
                              series=[diagonal], bars=bars, bar_colour=CURVE_COLOURS[0],
                              bar_label="observed accuracy", legend="inside",
                              x_range=(float(edges[0]), float(edges[-1]))))
