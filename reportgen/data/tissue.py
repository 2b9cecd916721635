"""Drawing of synthetic H&E tissue: stain model, nuclei, confounders, one rendered block of patches.

Colour follows the Beer-Lambert stain model of Ruifrok & Johnston (2001):
optical density = c_H * h_vector + c_E * e_vector, RGB = exp(-density).
Positives carry a tumour-like cluster touching the centre 32x32 region,
hard negatives one confined to a band along an edge; lymphocyte aggregates
and pigment blobs, in patches of either label, are the confounders. Every
function draws from the generator it is given, in a fixed order, so the
pixels depend only on the seed (:mod:`reportgen.data.synth` writes them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from reportgen.data.files import CENTRE_START, PATCH_SIZE

# Stain vectors (optical density per unit concentration, RGB) from
# Ruifrok & Johnston (2001), the usual starting point for stain deconvolution.
HEMATOXYLIN = np.array([0.650, 0.704, 0.286])
EOSIN = np.array([0.072, 0.990, 0.105])

#: Patch kinds: no tumour-like cluster, one outside the centre region only, one touching the centre.
KIND_NEGATIVE, KIND_HARD_NEGATIVE, KIND_POSITIVE = 0, 1, 2
#: Share of patches (either label) carrying a lymphocyte aggregate.
LYMPHOCYTE_SHARE = 0.5
#: Share of patches (either label) carrying a smooth dark pigment blob.
PIGMENT_SHARE = 0.3
#: Optical density of fully black pigment per unit of blob darkness (1.1-1.8), i.e. 3.3-5.4.
PIGMENT_BLACK_DENSITY = 3.0


@dataclass(frozen=True)
class _Slide:
    """Per-slide appearance: stain vectors, stain amounts, brightness, blur."""

    stain_matrix: np.ndarray  # (2, 3): hematoxylin row, eosin row
    hematoxylin_scale: float
    eosin_scale: float
    brightness: float
    blur_sigma: float


def draw_slides(
    rng: np.random.Generator,
    n_slides: int,
    *,
    stain_jitter: float,
    brightness_jitter: float,
    blur_fraction: float,
    blur_sigma: float,
) -> list[_Slide]:
    """Draw the appearance of ``n_slides`` simulated slides, in order, from ``rng``.

    stain_jitter : standard deviation added to each stain vector.
    brightness_jitter : scale of the brightness loss.
    blur_fraction : chance that a slide is out of focus; such slides get ``blur_sigma``.
    """
    slides = []
    for _ in range(n_slides):
        stains = np.stack([HEMATOXYLIN, EOSIN]) + rng.normal(0.0, stain_jitter, size=(2, 3))
        stains = np.clip(stains, 0.02, None)
        stains /= np.linalg.norm(stains, axis=1, keepdims=True)
        blurred = rng.random() < blur_fraction
        slides.append(
            _Slide(
                stain_matrix=stains,
                hematoxylin_scale=float(rng.lognormal(0.0, 0.12)),
                eosin_scale=float(rng.lognormal(0.0, 0.15)),
                brightness=float(np.clip(1.0 - abs(rng.normal(0.0, brightness_jitter)), 0.7, 1.0)),
                blur_sigma=blur_sigma if blurred else 0.0,
            )
        )
    return slides


def _linear_upsampling_matrix(size: int, factor: int) -> np.ndarray:
    """(size * factor, size) float32 matrix of periodic linear interpolation."""
    position = (np.arange(size * factor) + 0.5) / factor - 0.5
    left = np.floor(position).astype(np.int64)
    weight = (position - left).astype(np.float32)
    matrix = np.zeros((size * factor, size), dtype=np.float32)
    rows = np.arange(size * factor)
    np.add.at(matrix, (rows, left % size), 1.0 - weight)
    np.add.at(matrix, (rows, (left + 1) % size), weight)
    return matrix


def _smooth_noise(rng: np.random.Generator, n: int, sigma: float, *, downsample: int = 1) -> np.ndarray:
    """(n, 96, 96) float32 noise with unit standard deviation at spatial scale ``sigma``.

    Coarse noise is filtered at 1/``downsample`` resolution and upsampled
    bilinearly, which looks the same and costs a fraction of a wide filter.
    """
    size = PATCH_SIZE // downsample
    noise = rng.standard_normal((n, size, size), dtype=np.float32)
    noise = ndimage.gaussian_filter(noise, sigma=(0, sigma / downsample, sigma / downsample), mode="wrap", truncate=3.0)
    if downsample > 1:
        upsample = _linear_upsampling_matrix(size, downsample)
        noise = upsample @ noise @ upsample.T
    noise /= noise.std(axis=(1, 2), keepdims=True) + 1e-6
    return noise


def _stamp_nuclei(
    rng: np.random.Generator,
    density: np.ndarray,
    mask: np.ndarray | None,
    patch: np.ndarray,
    centre_y: np.ndarray,
    centre_x: np.ndarray,
    *,
    radius_range: tuple[float, float],
    darkness_range: tuple[float, float],
    irregularity: float,
    speckle: bool = True,
) -> None:
    """Draw soft, rotated, optionally lobed ellipses into ``density`` in place.

    density : (B, 96, 96) float32 hematoxylin concentration, updated with a max.
    mask : (B, 96, 96) uint8 or None; pixels inside a nucleus are set to 1.
    patch, centre_y, centre_x : (K,) patch index and float centre of each nucleus.
    speckle : add chromatin texture inside (default True); False draws a smooth blob.
    """
    n_nuclei = len(patch)
    if n_nuclei == 0:
        return
    # The soft edge ends at distance 1.15 of the lobed outline.
    reach = int(np.ceil(radius_range[1] * (1.0 + irregularity) * 1.15)) + 1
    offsets = np.arange(-reach, reach + 1, dtype=np.float32)
    radius_y = rng.uniform(*radius_range, size=n_nuclei).astype(np.float32)
    radius_x = radius_y * rng.uniform(0.65, 1.0, size=n_nuclei).astype(np.float32)
    angle = rng.uniform(0.0, np.pi, size=n_nuclei)
    phase = rng.uniform(0.0, 2 * np.pi, size=n_nuclei).astype(np.float32)
    lobes = rng.integers(2, 5, size=n_nuclei).astype(np.float32)
    darkness = rng.uniform(*darkness_range, size=n_nuclei).astype(np.float32)

    centre_y = centre_y.astype(np.float32)
    centre_x = centre_x.astype(np.float32)
    pixel_y = np.round(centre_y)[:, None, None] + offsets[None, :, None]
    pixel_x = np.round(centre_x)[:, None, None] + offsets[None, None, :]
    rel_y = pixel_y - centre_y[:, None, None]
    rel_x = pixel_x - centre_x[:, None, None]
    cos = np.cos(angle).astype(np.float32)[:, None, None]
    sin = np.sin(angle).astype(np.float32)[:, None, None]
    along = rel_y * cos + rel_x * sin
    across = -rel_y * sin + rel_x * cos
    distance = np.hypot(along / radius_y[:, None, None], across / radius_x[:, None, None])
    if irregularity > 0:
        theta = np.arctan2(across, along)
        # Lobed outline r(theta) = r0 * (1 + a cos(k theta + phi)) gives irregular nuclei.
        distance /= 1.0 + irregularity * np.cos(lobes[:, None, None] * theta + phase[:, None, None])

    inside_patch = (pixel_y >= 0) & (pixel_y < PATCH_SIZE) & (pixel_x >= 0) & (pixel_x < PATCH_SIZE)
    value = darkness[:, None, None] * np.clip((1.15 - distance) / 0.3, 0.0, 1.0)
    # Chromatin texture: speckle inside the nucleus.
    if speckle:
        value = value * (0.8 + 0.3 * rng.random(size=value.shape, dtype=np.float32))
    drawn = inside_patch & (value > 0)
    flat = (patch[:, None, None] * PATCH_SIZE + pixel_y.astype(np.int64)) * PATCH_SIZE + pixel_x.astype(np.int64)
    np.maximum.at(density.reshape(-1), flat[drawn], value[drawn].astype(np.float32))
    if mask is not None:
        mask.reshape(-1)[flat[inside_patch & (distance <= 1.0)]] = 1


def _normal_nuclei(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = rng.integers(18, 45, size=batch)
    patch = np.repeat(np.arange(batch), counts)
    return patch, rng.uniform(-2, PATCH_SIZE + 2, size=len(patch)), rng.uniform(-2, PATCH_SIZE + 2, size=len(patch))


def _lymphocyte_aggregates(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nucleus centres of lymphocyte aggregates in half of the patches, of either label.

    Lymphocytes are small, round and as dark as tumour nuclei, and aggregates
    sit anywhere, the centre included: the classic PCam confounder.  They keep
    a model from equating "dark blob in the centre" with tumour, so it must
    look at nuclear size and shape; they are not part of the tumour mask.
    """
    chosen = np.flatnonzero(rng.random(batch) < LYMPHOCYTE_SHARE)
    counts = rng.integers(60, 110, size=len(chosen))
    patch = np.repeat(chosen, counts)
    centre_y, centre_x = rng.uniform(14, PATCH_SIZE - 14, size=(2, len(chosen)))
    spread = rng.uniform(5.5, 8.5, size=len(chosen))
    y = np.repeat(centre_y, counts) + rng.normal(0, 1, size=len(patch)) * np.repeat(spread, counts)
    x = np.repeat(centre_x, counts) + rng.normal(0, 1, size=len(patch)) * np.repeat(spread, counts)
    return patch, y, x


def _pigment_blobs(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres of one or two smooth dark blobs (pigment, ink, necrotic debris) in a share of the patches.

    Patches of either label carry them. They are as dark and as large as a
    tumour cluster, from hematoxylin-dark to black, but carry no nuclear
    texture, so a model must see nuclei, not just a dark region, to call
    tumour. Two measurements rely on this: a blurred tumour cluster no longer
    reads as tumour (blur-substrate insertion stays informative), and a black
    region reads as "nothing here" rather than as a dark cluster (LIME's hide
    colour 0 and the black deletion substrate remove evidence instead of adding it).
    """
    chosen = np.flatnonzero(rng.random(batch) < PIGMENT_SHARE)
    patch = np.repeat(chosen, rng.integers(1, 3, size=len(chosen)))
    centre_y, centre_x = rng.uniform(12, PATCH_SIZE - 12, size=(2, len(patch)))
    return patch, centre_y, centre_x


def _tumour_clusters(
    rng: np.random.Generator, kinds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nucleus centres of the tumour-like clusters.

    Positives: a cluster centred inside the centre region, with one nucleus
    exactly at the cluster centre so the mask always touches it.
    Hard negatives: a cluster confined to a band along one patch edge whose
    nuclei, whatever their size, cannot reach the centre region.
    """
    patches, ys, xs = [], [], []
    max_reach = 6.5 * 1.25 * 1.15 + 2  # largest tumour radius times lobe factor, plus soft edge
    for index in np.flatnonzero(kinds != KIND_NEGATIVE):
        count = int(rng.integers(10, 18))
        if kinds[index] == KIND_POSITIVE:
            cy, cx = rng.uniform(38, 58, size=2)
            dy, dx = rng.normal(0, 9.0, size=(2, count))
            dy[0] = dx[0] = 0.0
            y, x = cy + dy, cx + dx
        else:
            side = int(rng.integers(4))
            along = rng.uniform(10, 86)
            across = rng.uniform(6, 14)
            dy = rng.normal(0, 11.0, size=count)
            dx = rng.normal(0, 4.0, size=count)
            limit = CENTRE_START - max_reach
            offset_along = np.clip(along + dy, 0, PATCH_SIZE - 1)
            offset_across = np.clip(across + dx, -3, limit)
            if side in (0, 1):  # top, bottom band
                y = offset_across if side == 0 else PATCH_SIZE - 1 - offset_across
                x = offset_along
            else:  # left, right band
                x = offset_across if side == 2 else PATCH_SIZE - 1 - offset_across
                y = offset_along
        patches.append(np.full(count, index))
        ys.append(y)
        xs.append(x)
    if not patches:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty
    return np.concatenate(patches), np.concatenate(ys), np.concatenate(xs)


def render_block(
    rng: np.random.Generator, kinds: np.ndarray, slides: list[_Slide], slide_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Render one block of patches.

    Parameters
    ----------
    kinds : (B,) int64, one of ``KIND_NEGATIVE``, ``KIND_HARD_NEGATIVE``, ``KIND_POSITIVE`` per patch.
    slides : the slides drawn by :func:`draw_slides`.
    slide_index : (B,) int, the slide each patch comes from.

    Returns
    -------
    images : (B, 96, 96, 3) uint8 RGB.
    masks : (B, 96, 96) uint8, 1 = tumour-like nucleus.
    """
    batch = len(kinds)
    fibres = _smooth_noise(rng, batch, 1.2)
    regions = _smooth_noise(rng, batch, 6.0, downsample=4)
    eosin = 0.42 + 0.10 * fibres + 0.12 * regions
    # Empty spaces (fat, lumina) where the low-frequency field is low.
    holes = np.clip((-regions - 1.3) / 0.4, 0.0, 1.0)
    eosin = np.clip(eosin * (1.0 - 0.85 * holes), 0.02, None)
    hematoxylin = np.full_like(eosin, 0.06) + 0.02 * fibres

    nuclei = np.zeros_like(eosin)
    patch, y, x = _normal_nuclei(rng, batch)
    _stamp_nuclei(rng, nuclei, None, patch, y, x, radius_range=(1.6, 3.0), darkness_range=(0.45, 0.8), irregularity=0.0)
    masks = np.zeros((batch, PATCH_SIZE, PATCH_SIZE), dtype=np.uint8)
    patch, y, x = _lymphocyte_aggregates(rng, batch)
    _stamp_nuclei(rng, nuclei, None, patch, y, x, radius_range=(1.5, 2.3), darkness_range=(1.5, 2.1), irregularity=0.0)
    pigment = np.zeros_like(eosin)
    patch, y, x = _pigment_blobs(rng, batch)
    _stamp_nuclei(rng, pigment, None, patch, y, x, radius_range=(8.0, 18.0), darkness_range=(1.1, 1.8),
                  irregularity=0.3, speckle=False)
    # Pigment blackness per patch is uniform in [0, 1]: 0 is hematoxylin-dark, 1 neutral black.
    blackness = rng.random(batch, dtype=np.float32)[:, None, None]
    patch, y, x = _tumour_clusters(rng, kinds)
    _stamp_nuclei(rng, nuclei, masks, patch, y, x, radius_range=(3.5, 6.5), darkness_range=(1.5, 2.1), irregularity=0.25)
    hematoxylin = np.maximum(hematoxylin, np.maximum(nuclei, pigment * (1.0 - blackness)))
    # Black pigment stops short of tumour nuclei, so it never hides the evidence the label rests on.
    black = pigment * blackness * PIGMENT_BLACK_DENSITY
    black[ndimage.maximum_filter(masks, size=(1, 7, 7)) > 0] = 0.0

    h_scale = np.array([slides[s].hematoxylin_scale for s in slide_index], dtype=np.float32)[:, None, None]
    e_scale = np.array([slides[s].eosin_scale for s in slide_index], dtype=np.float32)[:, None, None]
    stains = np.stack([slides[s].stain_matrix for s in slide_index]).astype(np.float32)  # (B, 2, 3)
    density = (hematoxylin * h_scale)[..., None] * stains[:, None, None, 0, :]
    density += (eosin * e_scale)[..., None] * stains[:, None, None, 1, :]
    brightness = np.array([slides[s].brightness for s in slide_index], dtype=np.float32)
    density += black[..., None]  # neutral: the same optical density in R, G and B
    rgb = np.exp(-density) * brightness[:, None, None, None]

    for position, s in enumerate(slide_index):
        if slides[s].blur_sigma > 0:
            rgb[position] = ndimage.gaussian_filter(rgb[position], sigma=(slides[s].blur_sigma,) * 2 + (0,))
    # Sensor noise, shared by the three channels (halves the cost, looks alike).
    rgb += 0.012 * rng.standard_normal(size=rgb.shape[:3], dtype=np.float32)[..., None]
    images = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
    return images, masks
