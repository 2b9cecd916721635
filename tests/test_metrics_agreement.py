"""Agreement between maps and the generated note, on hand-made maps."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.errors import ConfigError
from reportgen.metrics.agreement import (
    agreement_matrix,
    agreement_note,
    mass_location,
    pool_maps,
    spearman_pooled,
    top_fraction_iou,
)


def _gradient_map(side=96):
    rows, cols = np.mgrid[0:side, 0:side]
    return (rows * side + cols).astype(float)


def _border_map(side=96):
    heavy = np.zeros((side, side))
    heavy[:6, :] = 1.0
    heavy[-6:, :] = 1.0
    return heavy


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


def test_iou_of_constant_maps_uses_the_shared_tie_break():
    constant = np.zeros((1, 20, 20))
    assert top_fraction_iou(constant, constant + 5.0, seed=3)[0] == 1.0


def test_mass_location():
    uniform = mass_location(np.ones((96, 96)))
    assert uniform["centre"] == pytest.approx(1024 / 9216)
    assert uniform["border"] == pytest.approx(1 - 72**2 / 96**2)
    assert uniform["dominant"] == "spread"
    assert mass_location(_centre_blob())["dominant"] == "centre"
    bottom = np.zeros((96, 96))
    bottom[80:, 30:60] = 1.0
    assert mass_location(bottom)["dominant"] == "bottom"
    assert mass_location(_border_map())["border"] == pytest.approx(1.0)
    assert mass_location(-np.ones((96, 96)))["dominant"] == "none"


def test_note_reports_agreement_disagreement_and_border_warning():
    maps = {"ig": _centre_blob(), "cam": _centre_blob(offset=2.0), "lime": _border_map()}
    titles = {"ig": "Integrated Gradients", "cam": "Grad-CAM", "lime": "LIME"}
    note = agreement_note(maps, titles)
    assert "Integrated Gradients and Grad-CAM agree" in note
    assert "both concentrated on the centre" in note
    assert "Integrated Gradients and LIME disagree" in note
    assert "LIME attribution concentrated on the patch border" in note
    assert "Grad-CAM attribution concentrated" not in note
    assert agreement_note(maps, titles) == note


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
