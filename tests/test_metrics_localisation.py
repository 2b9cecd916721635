"""Centre mass, pointing game and mass in mask on hand-made maps."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.metrics.localisation import centre_mass, mass_in_mask, pointing_game
from reportgen.metrics.references import REFERENCE_MAPS, centre_prior_maps, random_maps, sobel_maps


def test_uniform_map_centre_mass():
    assert centre_mass(np.ones((2, 96, 96))) == pytest.approx([1024 / 9216] * 2)


def test_centre_mass_ignores_negative_values_and_handles_empty():
    maps = np.zeros((2, 96, 96))
    maps[0, 32:64, 32:64] = 1.0
    maps[0, :10, :10] = -5.0
    np.testing.assert_allclose(centre_mass(maps)[:1], [1.0])
    assert np.isnan(centre_mass(maps)[1])


def _map_with_peak(row, col, side=20):
    maps = np.zeros((1, side, side))
    maps[0, row, col] = 1.0
    return maps


def test_pointing_game_tolerance_is_chebyshev_three_pixels():
    mask = np.zeros((1, 20, 20), dtype=bool)
    mask[0, 10, 10] = True
    assert pointing_game(_map_with_peak(13, 7), mask)[0] == 1.0
    assert pointing_game(_map_with_peak(14, 10), mask)[0] == 0.0
    assert pointing_game(_map_with_peak(14, 10), mask, tolerance=4)[0] == 1.0
    assert np.isnan(pointing_game(_map_with_peak(0, 0), np.zeros_like(mask))[0])


def test_pointing_game_plateau_uses_seeded_tie_break():
    maps = np.zeros((1, 20, 20))
    maps[0, 0, :] = 1.0
    maps[0, 19, :] = 1.0
    mask = np.zeros((1, 20, 20), dtype=bool)
    mask[0, 19, :] = True
    results = {pointing_game(maps, mask, seed=seed)[0] for seed in range(8)}
    assert results == {0.0, 1.0}
    assert pointing_game(maps, mask, seed=5)[0] == pointing_game(maps, mask, seed=5)[0]


def test_mass_in_mask():
    maps = np.zeros((2, 8, 8))
    maps[:, :4, :] = 1.0
    maps[:, 4:, :] = 3.0
    masks = np.zeros((2, 8, 8), dtype=bool)
    masks[0, 4:, :] = True
    result = mass_in_mask(maps, masks)
    assert result[0] == pytest.approx(0.75)
    assert np.isnan(result[1])


def test_reference_maps():
    images = np.random.default_rng(0).random((2, 3, 96, 96)).astype(np.float32)
    for name, make in REFERENCE_MAPS.items():
        assert make(images, seed=1).shape == (2, 96, 96), name
    np.testing.assert_array_equal(random_maps(2, 4, 4, seed=3), random_maps(2, 4, 4, seed=3))
    prior = centre_prior_maps(1, 96, 96)
    assert centre_mass(prior)[0] > 0.85
    assert np.unravel_index(prior[0].argmax(), (96, 96)) in {(47, 47), (47, 48), (48, 47), (48, 48)}
    edges = np.zeros((1, 3, 16, 16))
    edges[:, :, :, 8:] = 1.0
    sobel = sobel_maps(edges)[0]
    assert sobel[:, 7:9].min() > 0 and sobel[:, :5].max() == 0 and sobel[:, 11:].max() == 0
