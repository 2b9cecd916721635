"""Agreement between maps, on hand-made maps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reportgen.errors import ConfigError
from reportgen.metrics.agreement import (
    agreement_matrix,
    pool_maps,
    spearman_pooled,
    top_fraction_iou,
    top_fraction_membership,
)


def _gradient_map(side=96):
    rows, cols = np.mgrid[0:side, 0:side]
    return (rows * side + cols).astype(float)


def _centre_blob(side=96, offset=0.0):
    rows, cols = np.mgrid[0:side, 0:side] - (side - 1) / 2
    return np.exp(-(rows**2 + (cols - offset) ** 2) / (2 * 8.0**2))


def test_pool_maps_averages_cells():
    maps = np.arange(16, dtype=float).reshape(1, 4, 4)
    np.testing.assert_allclose(pool_maps(maps, cell=2)[0], [[2.5, 4.5], [10.5, 12.5]])
    assert pool_maps(np.zeros((2, 96, 96))).shape == (2, 12, 12)
    with pytest.raises(ConfigError, match="cell=5"):
        pool_maps(np.zeros((1, 96, 96)), cell=5)


def test_identical_and_inverted_maps():
    maps = np.stack([_gradient_map(), _centre_blob()])
    np.testing.assert_allclose(spearman_pooled(maps, maps), [1.0, 1.0])
    np.testing.assert_allclose(top_fraction_iou(maps, maps), [1.0, 1.0])
    np.testing.assert_allclose(spearman_pooled(maps, -maps), [-1.0, -1.0])
    np.testing.assert_allclose(top_fraction_iou(maps, -maps), [0.0, 0.0])


def test_constant_map_gives_nan_spearman():
    constant = np.ones((1, 96, 96))
    assert np.isnan(spearman_pooled(constant, _gradient_map()[None])[0])


def test_iou_of_constant_maps_is_one():
    constant = np.zeros((1, 20, 20))
    assert top_fraction_iou(constant, constant + 5.0)[0] == 1.0


def _superpixel_maps(n=4, side=96, cells=3, seed=0):
    """(n, side, side) LIME-like maps: constant on each of cells x cells blocks, a few weights repeated."""
    rng = np.random.default_rng(seed)
    weights = rng.choice([0.0, 0.1, 0.3, 0.3, 0.7], size=(n, cells, cells))
    return np.kron(weights, np.ones((side // cells, side // cells)))


def _crisp_iou(a, b, count):
    """IoU of two index sets of size ``count``."""
    overlap = len(set(a) & set(b))
    return overlap / (2 * count - overlap)


def test_piecewise_constant_map_against_itself_scores_one():
    maps = _superpixel_maps()
    # The cut falls inside a 1,024-pixel block, where a seeded tie-break would choose 922 of them.
    np.testing.assert_array_equal(top_fraction_iou(maps, maps), np.ones(len(maps)))
    np.testing.assert_array_equal(top_fraction_iou(maps, 3 * np.exp(maps) - 1), np.ones(len(maps)))
    membership = top_fraction_membership(maps)
    np.testing.assert_allclose(membership.sum(axis=(1, 2)), round(0.1 * 96 * 96))
    assert membership.min() >= 0 and membership.max() <= 1


def test_maps_that_differ_only_inside_the_tie_group():
    # k = 4 of 16: two pixels above the cut, four tied at it share the two free places (0.5 each).
    tied = np.zeros((1, 4, 4))
    tied[0, 0, :2] = 3.0
    tied[0, 1, :] = 2.0
    broken = tied.copy()
    broken[0, 1, :] = [2.0, 2.2, 2.1, 1.9]
    np.testing.assert_allclose(top_fraction_membership(tied, 0.25)[0, 1], [0.5] * 4)
    np.testing.assert_allclose(top_fraction_membership(broken, 0.25)[0, 1], [0, 1, 1, 0])
    # Overlap 2 + 0.5 + 0.5 = 3 of a union 4 + 4 - 3 = 5.
    assert top_fraction_iou(tied, broken, 0.25)[0] == pytest.approx(0.6)
    # ... which is the IoU at the overlap expected over every equally likely tie-break of ``tied``.
    top_broken = [0, 1, 5, 6]
    overlaps = [len({0, 1, *choice} & set(top_broken)) for choice in itertools.combinations([4, 5, 6, 7], 2)]
    expected = np.mean(overlaps)
    assert top_fraction_iou(tied, broken, 0.25)[0] == pytest.approx(expected / (8 - expected))


def test_without_ties_the_iou_is_the_plain_set_iou():
    rng = np.random.default_rng(1)
    a, b = rng.random((3, 20, 20)), rng.random((3, 20, 20))
    count = 40
    top_a = np.argsort(-a.reshape(3, -1), axis=1)[:, :count]
    top_b = np.argsort(-b.reshape(3, -1), axis=1)[:, :count]
    expected = [_crisp_iou(x, y, count) for x, y in zip(top_a, top_b)]
    np.testing.assert_allclose(top_fraction_iou(a, b), expected)


def test_nan_ranks_last():
    values = np.arange(100, dtype=float).reshape(1, 10, 10)
    with_nan = values.copy()
    with_nan[0, 0, :5] = np.nan
    membership = top_fraction_membership(with_nan)
    np.testing.assert_array_equal(np.flatnonzero(membership[0]), np.arange(90, 100))
    assert top_fraction_iou(values, with_nan)[0] == 1.0


def test_agreement_matrix_is_symmetric_and_plain():
    rng = np.random.default_rng(0)
    maps = {"a": rng.random((3, 16, 16)), "b": rng.random((3, 16, 16))}
    maps["c"] = maps["a"].copy()
    result = agreement_matrix(maps, cell=4)
    assert result["methods"] == ["a", "b", "c"]
    assert result["spearman"][0][2] == pytest.approx(1.0)
    assert result["iou_top10"][0][2] == pytest.approx(1.0)
    assert result["spearman"][1][0] == result["spearman"][0][1]
    assert len(result["per_image"]["spearman"][0][1]) == 3
    assert all(type(v) is float for row in result["spearman"] for v in row)
