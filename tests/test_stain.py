"""Stain robustness: the perturbations themselves, and models whose reliance on stain is known by construction.

The shortcut models are hand-written modules that need no training: one predicts tumour from the
patch's global haematoxylin (a stain shortcut), the honest one from how many pixels of the centre
32x32 are much darker in haematoxylin than the rest of the patch (the nuclei the label is about).
The audit's model-level stain check must flag the first and not the second.  On patches where a stain
shortcut is planted (haematoxylin scaled up on tumour patches and down on normal ones), the global-stain
model must be caught by the other-class stain test, and an honest model that reads the nuclei by how many
times darker they are than the patch's median (so a stain scaled as a whole moves nothing) must not.
"""

import numpy as np
import pytest
import torch
from skimage.color import hed2rgb, rgb2hed

from reportgen.cache import ArrayCache
from reportgen.config import load_config_file, resolve_config
from reportgen.data import as_float_tensor
from reportgen.data.reader import open_pcam
from reportgen.data.shortcuts import plant_shortcut
from reportgen.errors import ConfigError
from reportgen.judgement.stain import checks as stain_page_one
from reportgen.judgement.stain import findings as stain_findings
from reportgen.metrics.stain import hed_jitter, macenko_normalise, match_stain_amounts, stain_amounts
from reportgen.pipeline.model_checks import model_checks
from reportgen.pipeline.score import CurveScorer, reference_maps
from reportgen.pipeline.stain import StainReference, donor_positions, stain_checks
from reportgen.pipeline.stain_section import stain_section
from reportgen.schema import ReportDocument, StainRobustness

SIZE = 32


def _concentrations(seed: int) -> np.ndarray:
    """(SIZE, SIZE, 3) positive HED concentrations on scikit-image's scale: nuclei-like blobs of haematoxylin
    on an eosin background, a trace of DAB."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    haematoxylin = np.full((SIZE, SIZE), 0.01)
    for y, x in rng.uniform(4, SIZE - 4, (6, 2)):
        haematoxylin += 0.08 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 6.0)
    eosin = 0.02 + 0.01 * rng.random((SIZE, SIZE))
    return np.stack([haematoxylin, eosin, np.full((SIZE, SIZE), 0.002)], axis=-1)


def _as_batch(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (1, 3, H, W) float32."""
    return np.moveaxis(rgb, -1, 0)[None].astype(np.float32)


def test_hed_jitter_at_strength_zero_returns_the_patch():
    images = np.concatenate([_as_batch(hed2rgb(_concentrations(seed))) for seed in range(3)])
    images[0, :, 0, 0] = 0.0  # a black pixel and a white one are kept too
    images[1, :, 0, 0] = 1.0
    np.testing.assert_allclose(hed_jitter(images, 0.0, [1, 2, 3]), images, atol=1e-5)


def test_hed_jitter_scales_and_shifts_each_channel_by_the_documented_draw():
    concentrations = _concentrations(4)
    image = _as_batch(hed2rgb(concentrations))
    strength, seed = 0.05, 12345
    generator = np.random.default_rng(seed)
    alpha = generator.uniform(1 - strength, 1 + strength, 3)
    beta = generator.uniform(-strength, strength, 3) / -np.log(1e-6)  # optical density on scikit-image's scale
    # scikit-image's own inverse (which does not clip concentrations) of the jittered concentrations.
    expected = _as_batch(hed2rgb(concentrations * alpha + beta))
    np.testing.assert_allclose(hed_jitter(image, strength, [seed]), expected, atol=1e-5)


def test_hed_jitter_is_seeded_per_patch():
    images = np.concatenate([_as_batch(hed2rgb(_concentrations(seed))) for seed in range(2)])
    first = hed_jitter(images, 0.2, [7, 8])
    np.testing.assert_array_equal(first, hed_jitter(images, 0.2, [7, 8]))
    np.testing.assert_array_equal(first[1:], hed_jitter(images[1:], 0.2, [8]))  # not dependent on other patches
    assert np.abs(first[1] - hed_jitter(images[1:], 0.2, [9])[0]).mean() > 1e-3
    assert np.abs(first - images).mean() > 1e-3


def _beer_lambert(concentrations: np.ndarray, stains: np.ndarray) -> np.ndarray:
    """(H, W, 2) haematoxylin and eosin amounts and (2, 3) stain vectors -> (H, W, 3) RGB in [0, 1], Io = 240."""
    return np.clip(240 * np.exp(-concentrations @ stains) / 255.0, 0, 1)


def test_macenko_brings_two_stainings_of_the_same_tissue_together_and_leaves_a_blank_patch():
    rng = np.random.default_rng(0)
    # Stain amounts (natural optical density) dense enough that every channel passes torchstain's 0.15
    # transparency cut, as stained tissue does: nuclei-like haematoxylin blobs in eosin-stained stroma.
    amounts = np.stack([_concentrations(5)[..., 0] * 18 + 0.1, 0.8 + 0.4 * rng.random((SIZE, SIZE))], axis=-1)
    amounts = np.kron(amounts, np.ones((3, 3, 1)))  # 96 x 96, enough pixels for the stain estimate
    usual = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11]])
    bluish = np.array([[0.80, 0.55, 0.25], [0.20, 0.95, 0.25]])
    images = np.concatenate([_as_batch(_beer_lambert(amounts, usual)), _as_batch(_beer_lambert(amounts * 1.4, bluish)),
                             np.full((1, 3, 96, 96), 250 / 255, np.float32)])
    normalised, unchanged = macenko_normalise(images)
    assert unchanged.tolist() == [False, False, True]
    np.testing.assert_array_equal(normalised[2], images[2])
    before = np.abs(images[0] - images[1]).mean()
    after = np.abs(normalised[0] - normalised[1]).mean()
    assert after < 0.1 * before, (before, after)
    assert np.abs(normalised[1] - images[1]).mean() > 0.02



def test_matching_the_data_stain_amounts_undoes_a_stronger_staining_and_keeps_the_tissue(patches):
    images, _ = patches
    tissue = images[:4].numpy()
    # The same tissue stained 1.35 times as strongly in haematoxylin (the planted stain shortcut's factor),
    # drawn in scikit-image's own HED space, and a blank patch.
    hed = rgb2hed(np.moveaxis(tissue, 1, -1).astype(np.float64))
    hed[..., 0] *= 1.35
    stronger = np.moveaxis(np.clip(hed2rgb(hed), 0, 1), -1, 1).astype(np.float32)
    blank = np.ones((1, 3, 96, 96), np.float32)
    amounts = stain_amounts(tissue)
    matched, unchanged = match_stain_amounts(np.concatenate([tissue, stronger, blank]), amounts)
    assert unchanged.tolist() == [False] * 8 + [True]
    np.testing.assert_array_equal(matched[8], blank[0])
    # Both stainings of a patch end up alike, and far closer than they were.
    before = np.abs(tissue - stronger).mean()
    after = np.abs(matched[:4] - matched[4:8]).mean()
    assert after < 0.25 * before, (before, after)
    # Each patch's median haematoxylin and eosin are now the data's.
    medians = np.median(rgb2hed(np.moveaxis(matched[:8], 1, -1).astype(np.float64)).reshape(8, -1, 3), axis=1)
    np.testing.assert_allclose(medians[:, :2], np.tile(amounts[:2], (8, 1)), rtol=0.05)


# skimage's hed_from_rgb, haematoxylin column, on its optical density scale (log(rgb) / log(1e-6)).
_HAEMATOXYLIN = torch.tensor([1.87798274, -0.06590806, -0.60190736])


def _haematoxylin(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, H, W) haematoxylin concentration."""
    density = torch.log(images.clamp_min(1e-6)) / np.log(1e-6)
    return torch.einsum("nchw,c->nhw", density, _HAEMATOXYLIN.to(images))


class GlobalStainModel(torch.nn.Module):
    """Tumour when the mean haematoxylin over the whole patch exceeds ``threshold``: a stain shortcut."""

    def __init__(self, threshold: float):
        super().__init__()
        self.threshold = threshold

    def forward(self, images):
        score = 200.0 * (_haematoxylin(images).mean(dim=(1, 2)) - self.threshold)
        return torch.stack([-score, score], dim=1)


class CentreNucleiModel(torch.nn.Module):
    """Tumour when enough of the centre 32x32 is much darker in haematoxylin than the patch's own median: large dark
    nuclei in the label region, read relative to the patch, so a global stain change moves little."""

    def __init__(self, threshold: float, contrast: float = 0.07):
        super().__init__()
        self.threshold, self.contrast = threshold, contrast

    def forward(self, images):
        haematoxylin = _haematoxylin(images)
        relative = haematoxylin - haematoxylin.flatten(1).median(dim=1).values[:, None, None]
        dark = torch.sigmoid((relative[:, 32:64, 32:64] - self.contrast) * 200.0).sum(dim=(1, 2))
        score = (dark - self.threshold) / 10.0
        return torch.stack([-score, score], dim=1)


class CentreNucleiRatioModel(torch.nn.Module):
    """Tumour when enough of the centre 32x32 is at least ``ratio`` times the patch's median haematoxylin: the
    nuclei read as a ratio, so scaling the haematoxylin of the whole patch moves nothing."""

    def __init__(self, threshold: float, ratio: float = 2.0):
        super().__init__()
        self.threshold, self.ratio = threshold, ratio

    def forward(self, images):
        haematoxylin = _haematoxylin(images)
        relative = haematoxylin / haematoxylin.flatten(1).median(dim=1).values.clamp_min(1e-4)[:, None, None]
        dark = torch.sigmoid((relative[:, 32:64, 32:64] - self.ratio) * 20.0).sum(dim=(1, 2))
        score = (dark - self.threshold) / 10.0
        return torch.stack([-score, score], dim=1)


@pytest.fixture(scope="module")
def raw_patches(tiny_pcam):
    """(uint8 (N, 96, 96, 3) patches, (N,) labels) of the tiny validation split."""
    with open_pcam(tiny_pcam, splits=("valid",)) as data:
        split = data.split("valid")
        batch = split.read(np.arange(len(split)))
        return batch.images, np.asarray(batch.labels)


@pytest.fixture(scope="module")
def patches(raw_patches):
    images, labels = raw_patches
    return as_float_tensor(images), labels


def _median_threshold(model_class, images, **kwargs):
    """``model_class`` with its threshold at the median of its score, so it calls about half the patches tumour."""
    with torch.no_grad():
        score = model_class(threshold=0.0, **kwargs)(images)[:, 1] * 10.0
    return model_class(threshold=float(score.median()) + 0.5, **kwargs)


def _document(section: dict) -> ReportDocument:
    """A document that holds the stain section and no method."""
    return ReportDocument.from_json({"methods": {}, "stain_robustness": section})


def _model_check(model, images, labels, *, stain_patches=None, slides=None) -> tuple[dict, dict]:
    """The build's stain step on the first ``stain_patches`` of ``images`` (all by default), the model-level checks
    on all of them, which are also the reference patches, and the document's section: (section, model check)."""
    count = len(images) if stain_patches is None else stain_patches
    config = resolve_config(flag_values={"stain_images": count, "steps": 4, "images": len(images)})
    with torch.no_grad():
        targets = model(images).argmax(dim=1)
    patch_indices = np.arange(len(images))
    cache = ArrayCache("unused", enabled=False)
    outcome = stain_checks(model, images[:count], targets[:count], patch_indices[:count], {}, config=config,
                           dataset_mean=(0.7, 0.5, 0.7), cache=cache, cache_context={},
                           reference=StainReference(indices=patch_indices, images=images, labels=labels),
                           progress=False)
    checked = model_checks(model, lambda indices: (images[indices], None), patch_indices, labels, slides=slides,
                           evaluated=len(images), chosen=f"every evaluated patch ({len(images)})", config=config,
                           dataset_mean=(0.7, 0.5, 0.7), stain_amounts=outcome.amounts, cache=cache,
                           cache_context={}, progress=False)
    scorer = CurveScorer(model, images[:count], targets[:count], patch_indices[:count], config=config,
                         dataset_mean=(0.7, 0.5, 0.7), cache=cache, cache_context={}, progress=False)
    random_curves = scorer.curves("random", reference_maps(images[:count], patch_indices[:count], seed=0)["random"],
                                  mode="deletion", substrate=config.deletion_substrate, map_identity={})
    section = stain_section(outcome, original_deletion={"random": random_curves}, methods=[],
                            patch_ids=[f"valid:{i}" for i in patch_indices], alpha=0.05, seed=0, model=checked)
    (check,) = [c.row() for c in stain_page_one(_document(section))
                if c.name.startswith("Model decision under a stain change")]
    return section, check


@pytest.fixture(scope="module")
def many_patches(tmp_path_factory):
    """(float (240, 3, 96, 96) patches, (240,) labels): enough for the flip rate's interval to decide against the
    limit, as the model-level checks run on every evaluated patch of a real split."""
    from reportgen.data.synth import write_synthetic_pcam

    folder = write_synthetic_pcam(tmp_path_factory.mktemp("stain-240"), seed=3, n_train=1, n_valid=240, n_test=1)
    with open_pcam(folder, splits=("valid",)) as data:
        batch = data.split("valid").read(np.arange(240))
    return as_float_tensor(batch.images), np.asarray(batch.labels)


def _flip_part(section: dict):
    from reportgen.judgement.stain import _model_parts

    (part,) = [part for part in _model_parts(StainRobustness.from_json(section)) if part.name == "flip"]
    return part


def test_the_stain_check_flags_a_model_that_decides_by_stain_and_not_an_honest_one(many_patches):
    images, labels = many_patches
    # Thresholds chosen from the synthetic data: the median of each score, so each model calls about half tumour.
    stain_threshold = float(_haematoxylin(images).mean(dim=(1, 2)).median())
    with torch.no_grad():
        dark = CentreNucleiModel(threshold=0.0)(images)[:, 1] * 10.0
    honest = CentreNucleiModel(threshold=float(dark.median()) + 0.5)
    shortcut = GlobalStainModel(stain_threshold)

    section, check = _model_check(shortcut, images, labels)
    # Its flips under HED strong lie wholly above the limit on 240 patches: the check fails.
    assert _flip_part(section).outcome == "fail" and check["outcome"] == "fail", check
    assert any("depends on stain" in warning.text for warning in stain_findings(_document(section)))

    section, check = _model_check(honest, images, labels)
    # The honest model's flips lie wholly below the limit; it is never failed.
    assert _flip_part(section).outcome == "pass" and check["outcome"] != "fail", check
    assert not any("depends on stain" in warning.text for warning in stain_findings(_document(section)))
    # Both models decide something: neither calls every patch the same class.
    for model in (shortcut, honest):
        with torch.no_grad():
            predictions = model(images).argmax(dim=1).numpy()
        assert 0 < predictions.mean() < 1


def test_stain_images_is_an_option_of_files_and_flags_and_zero_skips(tmp_path):
    path = tmp_path / "report.toml"
    path.write_text("[build]\nstain_images = 4\n")
    assert resolve_config(file_values=load_config_file(path)).stain_images == 4
    assert resolve_config(file_values=load_config_file(path), flag_values={"stain_images": 0}).stain_images == 0
    assert resolve_config().stain_images == 10
    with pytest.raises(ConfigError, match="stain_images"):
        resolve_config(flag_values={"stain_images": -1})
    assert stain_section(None, original_deletion={}, methods=[], patch_ids=[], alpha=0.05, seed=0) is None


def test_four_patches_cannot_clear_a_model_and_say_what_would_decide(patches):
    images, labels = patches
    honest = _median_threshold(CentreNucleiRatioModel, images)
    section, check = _model_check(honest, images[:4], labels[:4])
    assert check["outcome"] == "inconclusive"
    assert "a larger evaluation split" in check["decide"]
    assert not any("depends on stain" in warning.text for warning in stain_findings(_document(section)))


def test_each_patch_gets_a_donor_of_the_other_class_fixed_by_its_own_index():
    labels = np.array([0, 1, 0, 0, 1, 1, 0, 1])
    indices = np.array([11, 3, 40, 7, 19, 25, 2, 30])
    donors = donor_positions(labels, indices, seed=0)
    assert np.all(labels[donors] != labels)
    # The donor is drawn from the patch's own seed: reordering the sample gives each patch the same donor.
    order = np.array([5, 2, 7, 0, 1, 6, 3, 4])
    reordered = donor_positions(labels[order], indices[order], seed=0)
    assert np.array_equal(indices[order][reordered], indices[donors][order])
    assert not np.array_equal(donor_positions(labels, indices, seed=1), donors) or len(set(labels)) < 2
    assert np.all(donor_positions(np.zeros(4, dtype=int), np.arange(4), seed=0) == -1)


def test_a_model_that_learned_a_stain_travelling_with_the_label_is_caught_and_an_honest_one_is_not(raw_patches):
    raw, labels = raw_patches
    # The stain shortcut of `reportgen synth --shortcut stain`, following the label on every patch.
    planted = as_float_tensor(plant_shortcut(raw, labels, "stain", agreement=1.0, rng=np.random.default_rng(0)))
    shortcut = GlobalStainModel(float(_haematoxylin(planted).mean(dim=(1, 2)).median()))
    honest = _median_threshold(CentreNucleiRatioModel, planted)
    for model in (shortcut, honest):
        with torch.no_grad():
            assert (model(planted).argmax(dim=1).numpy() == labels).mean() > 0.8  # both read the label well

    section, check = _model_check(shortcut, planted, labels)
    other = section["class_stain"]
    # Its movement toward the donor's class lies wholly above the limit: the check fails.
    assert other["toward_donor"]["ci95"][0] > section["thresholds"]["class_stain_shift_max"]
    assert check["outcome"] == "fail"
    assert "toward it on 48 patches" in check["measured"]
    # The planted stain shows in the classes' amounts: tumour patches carry about twice the haematoxylin.
    amounts = other["class_amounts"]
    assert amounts["tumour"]["haematoxylin"] > 1.5 * amounts["normal"]["haematoxylin"]
    assert any("travels with the label" in warning.text
               for warning in stain_findings(_document(section)))

    section, check = _model_check(honest, planted, labels)
    assert abs(section["class_stain"]["toward_donor"]["mean"]) < 0.05
    assert check["outcome"] != "fail", check


def test_the_model_rules_read_every_evaluated_patch_not_only_the_stain_patches(raw_patches):
    """Four stain patches are too few for the model's rules, but the rules read the model-level checks' 48 patches
    from 6 slides: they decide, with the slide as the unit, while the maps stay on the four."""
    raw, labels = raw_patches
    planted = as_float_tensor(plant_shortcut(raw, labels, "stain", agreement=1.0, rng=np.random.default_rng(0)))
    shortcut = GlobalStainModel(float(_haematoxylin(planted).mean(dim=(1, 2)).median()))
    slides = np.array([f"slide-{i % 6}" for i in range(len(labels))], dtype=object)
    section, check = _model_check(shortcut, planted, labels, stain_patches=4, slides=slides)
    assert section["images"] == 4 and section["model_patches"] == len(labels) == 48 and section["model_slides"] == 6
    for condition in section["conditions"].values():
        assert condition["flip_rate"]["n"] == 48 and condition["flip_rate"]["slides"] == 6
        assert len(condition["stain_patches_flip_rate"]["per_image"]) == 4
    other = section["class_stain"]
    assert other["patches"] == 48 and other["toward_donor"]["slides"] == 6
    assert other["toward_donor"]["ci95"][0] > section["thresholds"]["class_stain_shift_max"]
    assert check["outcome"] == "fail" and "on 6 slides" in check["measured"]
