"""Planted shortcuts: each follows the label on the stated share of patches, leaves the rest of the data alone."""

import h5py
import numpy as np
import pytest
from skimage.color import rgb2hed

from reportgen.data.shortcuts import MARKER_COLOUR, MARKER_COLS, MARKER_ROWS, plant_shortcut
from reportgen.data.synth import write_synthetic_pcam


def _images(n=40):
    rng = np.random.default_rng(3)
    return (rng.uniform(0.35, 0.9, (n, 96, 96, 3)) * 255).astype(np.uint8), np.arange(n) % 2


def test_the_marker_is_on_the_label_1_patches_when_it_always_agrees():
    images, labels = _images()
    planted = plant_shortcut(images, labels, "periphery_marker", agreement=1.0, rng=np.random.default_rng(0))
    marked = np.all(planted[:, MARKER_ROWS, MARKER_COLS] == MARKER_COLOUR, axis=(1, 2, 3))
    assert marked.tolist() == (labels == 1).tolist()
    outside = np.ones((96, 96), dtype=bool)
    outside[MARKER_ROWS, MARKER_COLS] = False
    assert np.array_equal(planted[:, outside], images[:, outside])  # nothing else changes


def test_the_stain_shortcut_moves_haematoxylin_with_the_label():
    images, labels = _images()
    planted = plant_shortcut(images, labels, "stain", agreement=1.0, rng=np.random.default_rng(0))
    before = rgb2hed(images / 255.0)[..., 0].mean(axis=(1, 2))
    after = rgb2hed(planted / 255.0)[..., 0].mean(axis=(1, 2))
    assert np.all(after[labels == 1] > before[labels == 1]) and np.all(after[labels == 0] < before[labels == 0])


def test_agreement_sets_the_share_that_follows_the_label():
    images, labels = _images(400)
    planted = plant_shortcut(images, labels, "periphery_marker", agreement=0.8, rng=np.random.default_rng(1))
    marked = np.all(planted[:, MARKER_ROWS, MARKER_COLS] == MARKER_COLOUR, axis=(1, 2, 3))
    assert np.mean(marked == (labels == 1)) == pytest.approx(0.8, abs=0.06)


def test_a_shortcut_changes_the_images_but_not_the_masks_or_labels(tmp_path):
    sizes = {"n_train": 8, "n_valid": 8, "n_test": 8}
    plain = write_synthetic_pcam(tmp_path / "plain", seed=2, **sizes)
    marked = write_synthetic_pcam(tmp_path / "marked", seed=2, shortcut="periphery_marker", **sizes)
    name = "camelyonpatch_level_2_split_valid_{}.h5"
    with h5py.File(plain / name.format("x")) as a, h5py.File(marked / name.format("x")) as b:
        assert np.array_equal(a["mask"][:], b["mask"][:]) and not np.array_equal(a["x"][:], b["x"][:])
        outside = np.ones((96, 96), dtype=bool)
        outside[MARKER_ROWS, MARKER_COLS] = False
        assert np.array_equal(a["x"][:][:, outside], b["x"][:][:, outside])
    with h5py.File(plain / name.format("y")) as a, h5py.File(marked / name.format("y")) as b:
        assert np.array_equal(a["y"][:], b["y"][:])
