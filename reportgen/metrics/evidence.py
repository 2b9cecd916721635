"""Right for the right reason: does the model's evidence lie where PCam's label is decided?

PCam's label is tumour in the centre 32x32 region of a 96x96 patch; tumour
elsewhere does not count (Veeling et al., MICCAI 2018).  A model that calls a
patch tumour because of its periphery is right, where it is right, for a reason
the label does not allow.  Two measurements, each a plain function:

- **Region removal** (model level, no explanation involved): the tumour
  probability after everything outside the centre region is replaced by a
  substrate, and after the centre region alone is.  A tumour call that
  disappears when the periphery is removed was made by the periphery.
- **Attribution shares** (per method): the share of a map's positive
  attribution inside a region (the tumour mask, the centre, the periphery),
  against the share a uniform map puts there (the region's area share):
  :func:`reportgen.metrics.localisation.positive_share`, as centre mass.
"""

from __future__ import annotations

import numpy as np
import torch

from reportgen.inference import predict_proba
from reportgen.metrics.localisation import centre_region

#: The class index of tumour in PCam.
TUMOUR = 1
#: A patch is a tumour call when the model's tumour probability is at least this (its top-1 class is tumour).
TUMOUR_CALL = 0.5
#: Share of the model's tumour calls that may disappear once everything outside the centre 32x32 is replaced,
#: before the calls are said to rely on the periphery. The label ignores the periphery, so an honest model
#: loses few calls there; the limit allows for the substrate itself moving the model (the Substrates section).
PERIPHERY_FLIP_LIMIT = 0.2


def replace_region(images: torch.Tensor, region: np.ndarray, substrate: torch.Tensor) -> torch.Tensor:
    """``images`` (N, 3, H, W) with the pixels of ``region`` (H, W) bool taken from ``substrate`` (N, 3, H, W)."""
    inside = torch.as_tensor(region, device=images.device)[None, None]
    return torch.where(inside, substrate, images)


def tumour_probability_without(model: torch.nn.Module, images: torch.Tensor, region: np.ndarray,
                               substrate: torch.Tensor, *, batch_size: int = 256,
                               precision: str = "fp32") -> np.ndarray:
    """(N,) float64 tumour probability once ``region`` of each image is replaced by the substrate."""
    changed = replace_region(images, region, substrate)
    return predict_proba(model, changed, batch_size=batch_size, precision=precision)[:, TUMOUR].double().numpy()


def area_share(regions: np.ndarray) -> np.ndarray:
    """(N,) the share of the patch a region covers: what a uniform map puts inside it."""
    regions = np.asarray(regions, dtype=bool)
    return regions.reshape(len(regions), -1).mean(axis=1)


def periphery_only_tumour(masks: np.ndarray) -> np.ndarray:
    """(N,) bool: the patch's tumour mask has tumour outside the centre region and none inside it.

    These are the patches whose ground truth says "normal" although they carry
    tumour (the synthetic set's hard negatives): a model that calls them tumour
    reads the periphery.
    """
    masks = np.asarray(masks) > 0
    centre = centre_region(*masks.shape[1:])
    return ~masks[:, centre].any(axis=1) & masks[:, ~centre].any(axis=1)
