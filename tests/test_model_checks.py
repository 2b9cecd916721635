"""The model-level checks: which patches they run on, and that their forward passes are cached per patch."""

import importlib
import json

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.cache import ArrayCache
from reportgen.config import resolve_config
from reportgen.data import open_pcam
from reportgen.metrics.stain import CONDITIONS, stain_amounts
from reportgen.pipeline.model_checks import MODEL_CHECK_PATCHES, model_check_indices, model_checks

# The package exports the function of the same name; the module is reached through importlib.
model_checks_module = importlib.import_module("reportgen.pipeline.model_checks")

SIZE = 96


class MeanRed(nn.Module):
    """Tumour when the patch's mean red is low: moves with the stain, needs no training."""

    def forward(self, images):
        score = 30.0 * (0.75 - images[:, 0].mean(dim=(1, 2)))
        return torch.stack([-score, score], dim=1)


def _patches(n=16):
    generator = torch.Generator().manual_seed(0)
    images = 0.55 + 0.4 * torch.rand(n, 3, SIZE, SIZE, generator=generator)
    images[: n // 2, :, 32:64, 32:64] *= 0.5  # darker centres: half the patches are tumour calls
    return images, (np.arange(n) < n // 2).astype(np.int64)


def test_every_evaluated_patch_up_to_the_limit_then_a_seeded_sample():
    small = np.array([9, 2, 40, 7])
    indices, chosen = model_check_indices(small, seed=0)
    assert indices.tolist() == [2, 7, 9, 40] and chosen == "every evaluated patch (4)"
    large = np.arange(0, 3 * MODEL_CHECK_PATCHES, 1)
    indices, chosen = model_check_indices(large, seed=0)
    assert len(indices) == MODEL_CHECK_PATCHES == len(set(indices.tolist()))
    assert np.all(np.diff(indices) > 0) and np.isin(indices, large).all()
    assert f"{MODEL_CHECK_PATCHES} of the {len(large)} evaluated patches" in chosen and "SeedSequence([0, " in chosen
    assert np.array_equal(model_check_indices(large[::-1], seed=0)[0], indices)  # the order given does not matter
    assert not np.array_equal(model_check_indices(large, seed=1)[0], indices)


def _run(cache, images, labels, *, slides=None):
    config = resolve_config(flag_values={"images": 4})
    return model_checks(MeanRed(), lambda indices: (images[indices], None), np.arange(len(images)), labels,
                        slides=slides, evaluated=len(images), chosen="every evaluated patch", config=config,
                        dataset_mean=(0.7, 0.55, 0.7), stain_amounts=stain_amounts(images), cache=cache,
                        cache_context={"checkpoint": "x", "data": "y", "split": "valid"}, progress=False)


def test_the_forward_passes_are_cached_per_patch_and_a_new_code_version_recomputes_them(tmp_path):
    images, labels = _patches()
    slides = np.array(["s1", "s2", "s3", "s4"] * 4, dtype=object)
    first = _run(ArrayCache(tmp_path, version="one"), images, labels, slides=slides)
    assert set(first.seconds) == {"periphery_centre", *CONDITIONS, "class_stain"}
    assert first.slide_count == 4 and first.class_stain is not None
    again = _run(ArrayCache(tmp_path, version="one"), images, labels, slides=slides)
    assert again.seconds == {}  # nothing computed: every patch came from the cache
    for name in ("tumour_clean", "without_periphery", "without_centre"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    for condition in CONDITIONS:
        np.testing.assert_array_equal(again.stain[condition].flipped, first.stain[condition].flipped)
    np.testing.assert_array_equal(again.class_stain.toward_donor, first.class_stain.toward_donor)
    assert set(_run(ArrayCache(tmp_path, version="two"), images, labels).seconds) == set(first.seconds)


def test_a_block_gives_the_same_numbers_whichever_blocks_a_run_had_still_to_compute(tmp_path, monkeypatch):
    monkeypatch.setattr(model_checks_module, "PATCHES_PER_BLOCK", 4)
    images, labels = _patches()
    cache = ArrayCache(tmp_path, version="one")
    first = _run(cache, images, labels)
    entries = sorted(tmp_path.rglob("*.npz"))
    assert len(entries) == 4  # 16 patches, 4 blocks
    entries[0].unlink()
    again = _run(ArrayCache(tmp_path, version="one"), images, labels)
    assert again.seconds  # the missing block was computed again ...
    for name in ("tumour_clean", "without_periphery", "without_centre"):  # ... to the last bit
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    for condition in CONDITIONS:
        np.testing.assert_array_equal(again.stain[condition].probability_change,
                                      first.stain[condition].probability_change)


def test_a_one_class_sample_still_runs_the_conditions():
    images, labels = _patches(6)
    outcome = _run(ArrayCache("unused", enabled=False), images, np.zeros(6, dtype=np.int64))
    assert outcome.class_stain is None and set(outcome.stain) == set(CONDITIONS)
    assert outcome.stain["hed_strong"].flipped.shape == (6,)
    with pytest.raises(KeyError):
        outcome.stain["class_stain"]


def test_a_real_build_runs_the_model_checks_on_every_evaluated_patch(shared_build, tiny_pcam):
    document = json.loads((shared_build / "report.json").read_text())
    evaluated = document["model"]["evaluation"]["n"]
    with open_pcam(tiny_pcam, splits=("valid",)) as data:
        slides = len(set(data.split("valid").slide_ids))
    stain = document["stain_robustness"]
    assert stain["images"] == 2 and stain["model_patches"] == evaluated == 48 and stain["model_slides"] == slides
    for condition in stain["conditions"].values():
        assert (condition["flip_rate"]["n"], condition["flip_rate"]["slides"]) == (48, slides)
        assert condition["abs_probability_change"]["n"] == 48 and "per_image" not in condition["flip_rate"]
        assert len(condition["stain_patches_flip_rate"]["per_image"]) == 2
    assert stain["class_stain"]["patches"] == 48 and stain["class_stain"]["toward_donor"]["slides"] == slides
    assert sum(stain["class_stain"]["class_patches"].values()) == 48
    assert document["evidence"]["patches"] == 48 and document["evidence"]["slides"] == slides
    assert "model_checks" in document["provenance"]["timings"]
