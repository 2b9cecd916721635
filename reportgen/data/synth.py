"""Synthetic PCam: H&E-like patches with known tumour masks, in the real file layout.

The generator writes the six PatchCamelyon files
(``camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5``, chunked and
gzip-compressed like the originals, Veeling et al., 2018) plus a ``mask``
dataset in each ``_x`` file and a ``_meta.csv`` with a slide id per patch.
Because the tumour mask is known, localisation metrics (pointing game, mass in
mask) can be checked against ground truth, which real PCam does not offer.

Colour follows the Beer-Lambert stain model of Ruifrok & Johnston (2001):
optical density = c_H * h_vector + c_E * e_vector, RGB = exp(-density).
The label is exactly "the tumour mask touches the centre 32x32 region"
(pixels 32..63), the PCam labelling rule.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from scipy import ndimage
from tqdm import tqdm

from reportgen.errors import ConfigError

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 6
SYNTHETIC_MARKER = "reportgen_synthetic_version"
PATCH_SIZE = 96
CENTRE_START, CENTRE_STOP = 32, 64
DEMO_SIZES = {"train": 8192, "valid": 1024, "test": 512}

# Stain vectors (optical density per unit concentration, RGB) from
# Ruifrok & Johnston (2001), the usual starting point for stain deconvolution.
HEMATOXYLIN = np.array([0.650, 0.704, 0.286])
EOSIN = np.array([0.072, 0.990, 0.105])

# Rows per HDF5 chunk; the generator draws random numbers block by block, so
# this block size is part of what makes the output depend only on the seed.
CHUNK_ROWS = 32
# Level 1 compresses these smooth images nearly as well as 4 at a third of the cost.
GZIP_LEVEL = 1
_BLOCK = 256
_SPLIT_NUMBER = {"train": 0, "valid": 1, "test": 2}

_KIND_NEGATIVE, _KIND_HARD_NEGATIVE, _KIND_POSITIVE = 0, 1, 2
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


def _draw_slides(
    rng: np.random.Generator,
    n_slides: int,
    *,
    stain_jitter: float,
    brightness_jitter: float,
    blur_fraction: float,
    blur_sigma: float,
) -> list[_Slide]:
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
    for index in np.flatnonzero(kinds != _KIND_NEGATIVE):
        count = int(rng.integers(10, 18))
        if kinds[index] == _KIND_POSITIVE:
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


def _render_block(
    rng: np.random.Generator, kinds: np.ndarray, slides: list[_Slide], slide_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Render one block of patches.

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


def centre_labels(masks: np.ndarray) -> np.ndarray:
    """PCam label rule: 1 when the mask touches the centre 32x32 region.

    masks : (N, 96, 96) uint8 or bool. Returns (N,) uint8.
    """
    return masks[:, CENTRE_START:CENTRE_STOP, CENTRE_START:CENTRE_STOP].any(axis=(1, 2)).astype(np.uint8)


def _create_dataset(h5: h5py.File, name: str, shape: tuple[int, ...]) -> h5py.Dataset:
    chunks = (min(CHUNK_ROWS, shape[0]),) + shape[1:]
    # track_times=False keeps the file byte-identical for the same seed.
    return h5.create_dataset(
        name, shape=shape, dtype=np.uint8, chunks=chunks, compression="gzip", compression_opts=GZIP_LEVEL, track_times=False
    )


def _write_split(
    out_dir: Path,
    split: str,
    n_patches: int,
    *,
    seed: int,
    hard_negative_fraction: float,
    positive_fraction: float,
    n_slides: int,
    slide_options: dict,
    progress: bool,
) -> None:
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_NUMBER[split], GENERATOR_VERSION]))
    slides = _draw_slides(rng, n_slides, **slide_options)
    n_positive = int(round(n_patches * positive_fraction))
    n_hard = int(round((n_patches - n_positive) * hard_negative_fraction))
    kinds = np.full(n_patches, _KIND_NEGATIVE, dtype=np.int64)
    kinds[:n_positive] = _KIND_POSITIVE
    kinds[n_positive : n_positive + n_hard] = _KIND_HARD_NEGATIVE
    kinds = rng.permutation(kinds)
    slide_index = rng.integers(n_slides, size=n_patches)
    coords = rng.integers(0, 100_000, size=(n_patches, 2)) // 96 * 96

    x_path = out_dir / f"camelyonpatch_level_2_split_{split}_x.h5"
    y_path = out_dir / f"camelyonpatch_level_2_split_{split}_y.h5"
    labels = np.zeros(n_patches, dtype=np.uint8)
    any_tumour = np.zeros(n_patches, dtype=bool)
    with h5py.File(x_path, "w") as x_file, h5py.File(y_path, "w") as y_file:
        x_file.attrs[SYNTHETIC_MARKER] = GENERATOR_VERSION
        x_file.attrs["seed"] = seed
        x_data = _create_dataset(x_file, "x", (n_patches, PATCH_SIZE, PATCH_SIZE, 3))
        mask_data = _create_dataset(x_file, "mask", (n_patches, PATCH_SIZE, PATCH_SIZE))
        y_data = _create_dataset(y_file, "y", (n_patches, 1, 1, 1))
        starts = range(0, n_patches, _BLOCK)
        for start in tqdm(starts, desc=f"synthetic {split}", disable=not progress, unit="block"):
            stop = min(start + _BLOCK, n_patches)
            images, masks = _render_block(rng, kinds[start:stop], slides, slide_index[start:stop])
            x_data[start:stop] = images
            mask_data[start:stop] = masks
            labels[start:stop] = centre_labels(masks)
            any_tumour[start:stop] = masks.any(axis=(1, 2))
        y_data[:] = labels.reshape(-1, 1, 1, 1)

    # Same columns as the original meta files: unnamed index, then these five.
    meta_path = out_dir / f"camelyonpatch_level_2_split_{split}_meta.csv"
    with open(meta_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "coord_y", "coord_x", "tumor_patch", "center_tumor_patch", "wsi"])
        for index in range(n_patches):
            writer.writerow(
                [
                    index,
                    coords[index, 0],
                    coords[index, 1],
                    bool(any_tumour[index]),
                    bool(labels[index]),
                    f"synthetic_{split}_slide_{slide_index[index]:03d}",
                ]
            )
    logger.info("wrote synthetic %s split: %d patches, %d positive", split, n_patches, int(labels.sum()))


def write_synthetic_pcam(
    out_dir: str | Path,
    *,
    seed: int = 0,
    n_train: int = DEMO_SIZES["train"],
    n_valid: int = DEMO_SIZES["valid"],
    n_test: int = DEMO_SIZES["test"],
    hard_negative_fraction: float = 0.2,
    positive_fraction: float = 0.5,
    slides_per_split: int = 16,
    stain_jitter: float = 0.04,
    brightness_jitter: float = 0.06,
    blur_fraction: float = 0.25,
    blur_sigma: float = 0.7,
    progress: bool = False,
) -> Path:
    """Write a synthetic PCam data set in the real six-file layout.

    Parameters
    ----------
    out_dir : directory to write into (created if missing; existing files are overwritten).
    seed : the output files are byte-identical for the same seed and options (default 0).
    n_train, n_valid, n_test : patches per split (defaults: ``DEMO_SIZES``, 8192 / 1024 / 512).
    hard_negative_fraction : share of negatives carrying a tumour-like cluster
        only outside the centre 32x32 region (default 0.2).
    positive_fraction : share of label-1 patches (default 0.5, like PCam).
    slides_per_split : simulated slides per split, each with its own stain (default 16).
    stain_jitter : standard deviation added to each stain vector per slide (default 0.04).
    brightness_jitter : scale of the per-slide brightness loss (default 0.06).
    blur_fraction : share of slides scanned out of focus (default 0.25).
    blur_sigma : Gaussian blur sigma in pixels for those slides (default 0.7).
    progress : show a tqdm progress bar (default False).

    Returns
    -------
    The output directory, containing per split ``camelyonpatch_level_2_split_{split}_x.h5``
    (``x`` (N, 96, 96, 3) uint8, ``mask`` (N, 96, 96) uint8), ``..._y.h5`` (``y``
    (N, 1, 1, 1) uint8) and ``..._meta.csv`` (slide id in column ``wsi``).
    """
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    for split, size in sizes.items():
        if int(size) < 1:
            raise ConfigError(f"n_{split}={size}: every split needs at least 1 patch; pass a positive count")
    for name, value in (("hard_negative_fraction", hard_negative_fraction), ("positive_fraction", positive_fraction)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name}={value} is outside [0, 1]; pass a share between 0 and 1")
    if slides_per_split < 1:
        raise ConfigError(f"slides_per_split={slides_per_split}: need at least 1 slide; pass a positive count")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    slide_options = dict(
        stain_jitter=stain_jitter,
        brightness_jitter=brightness_jitter,
        blur_fraction=blur_fraction,
        blur_sigma=blur_sigma,
    )
    for split, size in sizes.items():
        _write_split(
            out_dir,
            split,
            int(size),
            seed=seed,
            hard_negative_fraction=hard_negative_fraction,
            positive_fraction=positive_fraction,
            n_slides=slides_per_split,
            slide_options=slide_options,
            progress=progress,
        )
    return out_dir
