"""Stain perturbations of a patch and what they change: plain numpy/torch functions.

- **HED jitter** (Tellez et al., "Quantifying the effects of data augmentation and stain color
  normalization in convolutional neural networks for computational pathology", Medical Image
  Analysis 58, 2019): the patch is taken into the haematoxylin-eosin-DAB space of Ruifrok and
  Johnston (2001; scikit-image's ``hed_from_rgb`` and ``rgb_from_hed`` matrices, as
  ``skimage.color.rgb2hed``/``hed2rgb``), each channel becomes ``alpha * hed + beta`` with
  ``alpha ~ U[1 - s, 1 + s]`` and ``beta ~ U[-s, s]`` in optical density (natural logarithm), and the
  patch is taken back to RGB.  scikit-image's concentrations are optical densities divided by
  ``-ln(1e-6)`` (about 13.8), so on its scale ``beta`` is drawn from ``U[-s, s] / 13.8``: drawn on
  scikit-image's scale itself, s = 0.05 would shift every stain by up to 0.7 optical density and
  change the demo patches' RGB values by 0.147 on average, far from the paper's "light".  Unlike ``rgb2hed``, negative stain concentrations are kept instead of being
  clipped at 0: clipping alone changes a third of the demo patches' pixel values by up to 0.2 on
  the way there and back, which would count as a stain change that never happened.  With the
  concentrations kept, ``s = 0`` returns the patch.
- **HED matched to the data**: each patch's haematoxylin and eosin concentrations scaled so that their
  medians over the patch become the data's (the medians over a sample of the evaluated split,
  :func:`stain_amounts`).  This is the HED jitter's ``alpha`` chosen for each patch instead of drawn:
  a stain difference between patches of any size is removed (a patch stained twice as strongly is
  brought back), the tissue's structure within the patch is kept up to that one factor per stain,
  and the median reads the stroma's and background's level, not the nuclei's, which cover less
  than half of a patch.  Reported, not read by the model-level rule (:data:`MODEL_CONDITIONS`).
- **The stain of the other class**: each evaluated patch (or a seeded sample of a large split) given the stain
  amounts of a patch of the other label (its haematoxylin and eosin medians scaled to the donor's, as above).  Where stain
  and label are independent, as when every slide holds both classes, the donor's stain is a random
  other stain and the tumour probability moves toward the donor's class as often as away from it,
  whatever the model does with stain; where a stain travels with the label (tumour slides from one
  laboratory), a model that learned that stain follows the donor.  It reads the stain amounts only, so
  where the classes differ in them for a reason of tissue (densely packed nuclei), it reads that too:
  the report states each class's median amounts.
- **Macenko normalisation** (Macenko et al., "A method for normalizing histology slides for
  quantitative analysis", ISBI 2009) to torchstain's default reference stain, by torchstain's numpy
  backend.  A patch without enough tissue to estimate its stain vectors makes torchstain raise; it
  is left unchanged and reported.
- What the model does with the perturbed patch: whether its predicted class changed and how much
  its tumour probability moved, per patch.

Nothing here explains or scores maps; :mod:`reportgen.pipeline.stain` does that with the build's own
explainers and curves, and compares maps with :func:`reportgen.metrics.stability.map_similarity`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from skimage.color import hed_from_rgb, rgb_from_hed

from reportgen.inference import predict_proba

#: The conditions, in report order: name -> (title, HED jitter strength s, or None for Macenko normalisation).
CONDITIONS = {"hed_light": ("HED light", 0.05), "hed_strong": ("HED strong", 0.2),
              "macenko": ("Macenko normalisation", None),
              "hed_data": ("HED matched to the data", None)}
#: Patches of the evaluated split whose pooled pixels give the data's stain amounts.
REFERENCE_PATCHES = 64
#: A patch whose median haematoxylin or eosin concentration is below this (scikit-image's scale: about 0.014 in
#: optical density) has too little of that stain to scale; it is left unchanged and reported.
MIN_STAIN_AMOUNT = 1e-3
#: The tumour class of the two-class PCam model.
TUMOUR = 1
#: Floor of an RGB value before its logarithm, and the optical density scale, as in ``skimage.color.rgb2hed``.
_RGB_FLOOR = 1e-6
_LOG_FLOOR = np.log(_RGB_FLOOR)

# The rules below were fixed before any result was looked at.
#: A condition "barely changed the decision" when at most this share of the predictions flipped ...
STABLE_FLIP_RATE = 0.1
#: ... and the tumour probability moved by at most this much on average (mean absolute change).
STABLE_PROBABILITY_CHANGE = 0.1
#: Under such a condition, a method whose maps keep a mean Spearman below this with the original maps is
#: explaining the stain, not the decision (0.5: the agreement note's "partly agree" threshold and the
#: sanity check's similarity threshold).
MAP_SPEARMAN_MIN = 0.5
#: A model whose predictions flip on more than this share of patches under a condition of
#: :data:`MODEL_CONDITIONS` decides by stain.
MODEL_FLIP_RATE_MAX = 0.2
#: The conditions the model-level rule reads, and why: HED strong, the rule fixed before any model was audited.
#: Tellez et al.'s strong jitter spans the stain differences between laboratories, which is why a PCam model
#: fails in another hospital; their light jitter stays within one laboratory's range.  Its draws are zero-mean,
#: so they leave a stain difference larger than their range standing (a model trained where tumour slides are
#: stained more strongly keeps its decisions under it: docs/report.md#shortcut-models).  The other conditions are
#: reported, not read.  Macenko normalisation: its reference stain comes from elsewhere, so its flips mix the
#: model's use of stain with a change of domain, and it rescales each patch by its own darkest pixels, which
#: changes how dark the nuclei are against the rest of the patch (a sign of tumour, not of stain); fitted to
#: the data's own stain it flipped 0.29 of a hand-written model's decisions that read only the centre's nuclei
#: (tests/test_stain.py).  HED matched to the data, measured as a candidate for the rule: it flipped 0.30 of
#: the demo model's 10 stain patches and 0.20 of those of a model trained on a stain that always follows the
#: label, so on 10 patches, a third of them the model's errors near p = 0.5, it does not tell the two apart.
MODEL_CONDITIONS = ("hed_strong",)
#: The second model-level rule, fixed before it was run on any model: given the stain of a patch of the other
#: class, the tumour probability moves toward that class by more than this on average (the same 0.1 that counts
#: as "barely changed" for a condition), the lower end of the 95 % interval of that mean above 0.
CLASS_STAIN_SHIFT_MAX = 0.1


def _channels_last(images) -> np.ndarray:
    """(N, 3, H, W) tensor or array -> (N, H, W, 3) float64 array."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    return np.moveaxis(np.asarray(images, dtype=np.float64), 1, -1)


def rgb_to_hed(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in [0, 1] -> (..., 3) HED concentrations on scikit-image's scale, not clipped at 0."""
    return (np.log(np.maximum(rgb, _RGB_FLOOR)) / _LOG_FLOOR) @ hed_from_rgb


def hed_to_rgb(hed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_hed`, clipped to [0, 1] (``skimage.color.hed2rgb``'s last step)."""
    return np.clip(np.exp((hed * _LOG_FLOOR) @ rgb_from_hed), 0.0, 1.0)


def hed_jitter(images, strength: float, seeds) -> np.ndarray:
    """HED jitter of Tellez et al. (2019) of each patch with its own seed.

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1] (tensor or array).
    strength : s >= 0; per patch and HED channel alpha ~ U[1 - s, 1 + s], beta ~ U[-s, s] in optical
        density, drawn by ``np.random.default_rng(seed)`` (alpha's three values, then beta's).
    seeds : (N,) one seed per patch (:func:`reportgen.runtime.derive_seed` of the patch index), so a
        patch's perturbation does not depend on the other patches.

    Returns
    -------
    (N, 3, H, W) float32 in [0, 1].
    """
    if strength < 0:
        raise ValueError(f"strength={strength!r} must be 0 or more (0.05 is Tellez et al.'s HED light)")
    rgb = _channels_last(images)
    seeds = [int(seed) for seed in seeds]
    if len(seeds) != len(rgb):
        raise ValueError(f"{len(seeds)} seeds for {len(rgb)} patches; pass one seed per patch")
    out = np.empty_like(rgb)
    for i, seed in enumerate(seeds):
        generator = np.random.default_rng(seed)
        alpha = generator.uniform(1 - strength, 1 + strength, 3)
        # beta is an optical density; scikit-image's concentrations are optical densities / -ln(1e-6).
        beta = generator.uniform(-strength, strength, 3) / -_LOG_FLOOR
        out[i] = hed_to_rgb(rgb_to_hed(rgb[i]) * alpha + beta)
    return np.moveaxis(out, -1, 1).astype(np.float32)


def stain_amounts(images) -> np.ndarray:
    """(3,) median haematoxylin, eosin and DAB concentration over every pixel of ``images`` (M, 3, H, W) float in
    [0, 1] pooled (scikit-image's scale, not clipped at 0): the data's stain amounts."""
    return np.median(rgb_to_hed(_channels_last(images)).reshape(-1, 3), axis=0)


def patch_stain_amounts(images) -> np.ndarray:
    """(N, 3) median haematoxylin, eosin and DAB concentration of each patch of ``images`` (N, 3, H, W) float in
    [0, 1] (scikit-image's scale, not clipped at 0)."""
    hed = rgb_to_hed(_channels_last(images))
    return np.median(hed.reshape(len(hed), -1, 3), axis=1)


def match_stain_amounts(images, amounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each patch's haematoxylin and eosin scaled so that their medians over the patch equal ``amounts``.

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1].
    amounts : (3,) from :func:`stain_amounts`, the same for every patch, or (N, 3) one row per patch
        (:func:`patch_stain_amounts` of the donors); DAB (absent from H&E) is left as it is.

    Returns
    -------
    perturbed : (N, 3, H, W) float32 in [0, 1]; a patch with less than :data:`MIN_STAIN_AMOUNT` of either stain
        (no tissue) is returned as given.
    unchanged : (N,) bool, those patches.
    """
    rgb = _channels_last(images)
    targets = np.broadcast_to(np.asarray(amounts, dtype=np.float64), (len(rgb), 3))
    out = rgb.astype(np.float32)
    unchanged = np.zeros(len(rgb), dtype=bool)
    for i, (patch, target) in enumerate(zip(rgb, targets)):
        hed = rgb_to_hed(patch)
        medians = np.median(hed.reshape(-1, 3), axis=0)
        if np.any(medians[:2] < MIN_STAIN_AMOUNT) or np.any(target[:2] < MIN_STAIN_AMOUNT):
            unchanged[i] = True
            continue
        scale = np.array([target[0] / medians[0], target[1] / medians[1], 1.0])
        out[i] = hed_to_rgb(hed * scale).astype(np.float32)
    return np.moveaxis(out, -1, 1), unchanged


def macenko_normalise(images) -> tuple[np.ndarray, np.ndarray]:
    """Each patch normalised to torchstain's default reference stain (Macenko et al., 2009).

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1]; rounded to uint8 H x W x 3, torchstain's input.

    Returns
    -------
    normalised : (N, 3, H, W) float32 in [0, 1]; a patch torchstain cannot normalise is returned as given.
    unchanged : (N,) bool, the patches torchstain raised on (too little tissue to estimate the stains).
    """
    import torchstain  # its normalizers are an attribute of the package, not an importable submodule

    normaliser = torchstain.normalizers.MacenkoNormalizer(backend="numpy")
    rgb = _channels_last(images)
    out = rgb.astype(np.float32)
    unchanged = np.zeros(len(rgb), dtype=bool)
    for i, patch in enumerate(rgb):
        as_bytes = np.clip(np.round(patch * 255), 0, 255).astype(np.uint8)
        try:
            # Without tissue, torchstain takes means and eigenvectors of empty sets before it raises.
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                normalised, _, _ = normaliser.normalize(as_bytes, stains=False)
        except (np.linalg.LinAlgError, ValueError, IndexError):
            unchanged[i] = True
            continue
        out[i] = normalised.astype(np.float32) / 255.0
    return np.moveaxis(out, -1, 1), unchanged


def mean_rgb_change(original, perturbed) -> np.ndarray:
    """(N,) mean absolute change of the RGB values per patch: how strong a perturbation was."""
    return np.abs(_channels_last(perturbed) - _channels_last(original)).mean(axis=(1, 2, 3))


def decision_change(model: torch.nn.Module, original, perturbed, *, batch_size: int = 256,
                    precision: str = "fp32") -> dict[str, np.ndarray]:
    """What a perturbation did to the model's decision on each patch.

    Parameters
    ----------
    model : classifier on (N, 3, H, W) float in [0, 1] with two classes (tumour = 1).
    original, perturbed : (N, 3, H, W) float in [0, 1].

    Returns
    -------
    ``{"flipped": (N,) float64 1.0 where the predicted class changed, else 0.0,
    "probability_change": (N,) float64 tumour probability on the perturbed patch minus on the original}``.
    """
    before = predict_proba(model, torch.as_tensor(original, dtype=torch.float32), batch_size=batch_size,
                           precision=precision).double().numpy()
    after = predict_proba(model, torch.as_tensor(perturbed, dtype=torch.float32), batch_size=batch_size,
                          precision=precision).double().numpy()
    return {"flipped": (before.argmax(axis=1) != after.argmax(axis=1)).astype(np.float64),
            "probability_change": after[:, TUMOUR] - before[:, TUMOUR]}


def decision_barely_changed(flip_rate: float | None, mean_abs_change: float | None) -> bool:
    """Whether a condition left the decision nearly as it was (:data:`STABLE_FLIP_RATE`, :data:`STABLE_PROBABILITY_CHANGE`)."""
    return (flip_rate is not None and mean_abs_change is not None
            and flip_rate <= STABLE_FLIP_RATE and mean_abs_change <= STABLE_PROBABILITY_CHANGE)


def toward_donor_class(probability_change, donor_labels) -> np.ndarray:
    """(N,) how far the tumour probability moved toward the donor's class: the change where the donor is a
    tumour patch (label 1), minus the change where it is not."""
    return np.where(np.asarray(donor_labels) == TUMOUR, 1.0, -1.0) * np.asarray(probability_change, dtype=np.float64)
