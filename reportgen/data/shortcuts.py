"""Shortcuts planted into synthetic patches, so that an audit can be shown to catch a model that cheats.

A shortcut is a feature that predicts the label in the data but is not the
reason the label says: the patch's stain, or a mark in the periphery.  A model
trained on such data may learn it instead of (or besides) the tumour in the
centre.  Because the generator plants it, the ground truth of *why* such a
model would be right is known, and the audit's checks meant for it (stain
robustness, the right-for-the-right-reason region test) must flag it.

- ``stain``: label-1 patches get more haematoxylin and label-0 patches less
  (the H channel of the HED decomposition scaled; Ruifrok & Johnston 2001,
  ``skimage.color.rgb2hed``), as when tumour slides come from one lab.
- ``periphery_marker``: a dark 12x12 mark in the top-left corner, far outside
  the centre 32x32 region, on label-1 patches, as a pen mark or a scanner
  artefact that travels with the diagnosis.

Each is planted on a share ``agreement`` of the patches in the direction of
their label and on the rest against it, so the shortcut predicts the label as
well as ``agreement`` says and no better.
"""

from __future__ import annotations

import numpy as np
from skimage.color import hed2rgb, rgb2hed

SHORTCUTS = ("none", "stain", "periphery_marker")
#: The haematoxylin scale of the stain shortcut: label-1 patches x (1 + STAIN_SHIFT), label-0 x (1 - STAIN_SHIFT).
STAIN_SHIFT = 0.35
#: The periphery mark: rows and columns it covers, and its RGB colour (a dark purple, like a pen mark).
MARKER_ROWS, MARKER_COLS = slice(4, 16), slice(4, 16)
MARKER_COLOUR = (70, 35, 95)


def plant_shortcut(images: np.ndarray, labels: np.ndarray, kind: str, *, agreement: float,
                   rng: np.random.Generator) -> np.ndarray:
    """``images`` (N, 96, 96, 3) uint8 with the shortcut ``kind`` planted, following ``labels`` (N,) on a share
    ``agreement`` of the patches (drawn with ``rng``) and opposing them on the rest."""
    if kind not in SHORTCUTS:
        raise ValueError(f"unknown shortcut {kind!r}; choose one of {', '.join(SHORTCUTS)}")
    if kind == "none":
        return images
    follows = rng.random(len(labels)) < agreement
    signal = np.where(follows, labels, 1 - labels).astype(bool)
    out = images.copy()
    if kind == "periphery_marker":
        out[signal, MARKER_ROWS, MARKER_COLS] = MARKER_COLOUR
        return out
    hed = rgb2hed(images.astype(np.float64) / 255.0)
    scale = np.where(signal, 1.0 + STAIN_SHIFT, 1.0 - STAIN_SHIFT)
    hed[..., 0] *= scale[:, None, None]
    return (np.clip(hed2rgb(hed), 0.0, 1.0) * 255.0).round().astype(np.uint8)
