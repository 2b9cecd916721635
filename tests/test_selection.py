"""The selection record: the explained patches chosen once, their ids, and how many the sanity and stain steps take."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.config import Shard
from reportgen.data.sampling import select_cases
from reportgen.pipeline.selection import leading_patches, patch_id, select_patches
from reportgen.pipeline.shards import shard_positions


def _evaluated(n=40, seed=0):
    rng = np.random.default_rng(seed)
    evaluated = np.sort(rng.choice(1000, size=n, replace=False))
    labels = rng.integers(0, 2, n)
    tumour = rng.uniform(0, 1, n)
    return evaluated, labels, np.stack([1 - tumour, tumour], axis=1)


@pytest.mark.parametrize("target", ["predicted", "label"])
def test_the_selection_is_the_sampler_s_choice_in_split_order(target):
    evaluated, labels, probabilities = _evaluated()
    slides = np.array([f"slide-{i % 5}" for i in range(len(evaluated))])
    selection = select_patches("test", evaluated, labels, probabilities, count=12, seed=3, target=target,
                               slide_ids=slides)
    predictions = probabilities.argmax(axis=1)
    chosen, strata, description = select_cases(labels, predictions, probabilities.max(axis=1), 12, seed=3)
    order = np.argsort(evaluated[chosen])
    assert np.all(np.diff(selection.indices) > 0) and len(selection) == 12
    np.testing.assert_array_equal(selection.indices, evaluated[chosen][order])
    np.testing.assert_array_equal(selection.labels, labels[chosen][order])
    np.testing.assert_array_equal(selection.predictions, predictions[chosen][order])
    np.testing.assert_array_equal(selection.probabilities, probabilities[chosen][order])
    np.testing.assert_array_equal(selection.targets, (predictions if target == "predicted" else labels)[chosen][order])
    assert selection.strata == tuple(strata[i] for i in order) and selection.description == description
    assert selection.slide_ids == list(slides[chosen][order])
    assert selection.patch_ids == [f"test:{index}" for index in selection.indices]
    assert patch_id("valid", np.int64(7)) == "valid:7"


def test_by_slide_stratifies_by_slide_and_no_slide_ids_gives_none():
    evaluated, labels, probabilities = _evaluated()
    slides = np.array([f"slide-{i % 5}" for i in range(len(evaluated))])
    by_slide = select_patches("valid", evaluated, labels, probabilities, count=10, seed=1, target="label",
                              slide_ids=slides, by_slide=True)
    chosen, _, description = select_cases(labels, probabilities.argmax(axis=1), probabilities.max(axis=1), 10,
                                          seed=1, slide_ids=slides)
    np.testing.assert_array_equal(by_slide.indices, np.sort(evaluated[chosen]))
    assert by_slide.description == description
    plain = select_patches("valid", evaluated, labels, probabilities, count=10, seed=1, target="label")
    assert plain.slide_ids is None


@pytest.mark.parametrize("sanity, stain", [(0, 0), (2, 5), (5, 2), (20, 3)])
def test_the_shards_take_exactly_the_report_s_leading_patches_between_them(sanity, stain):
    whole = leading_patches(np.arange(9), sanity_images=sanity, stain_images=stain)
    assert (whole.sanity, whole.stain, whole.count) == (min(sanity, 9), min(stain, 9), min(max(sanity, stain), 9))
    for count in (1, 2, 4):
        shares = [leading_patches(shard_positions(9, Shard(k, count)), sanity_images=sanity, stain_images=stain)
                  for k in range(1, count + 1)]
        assert sum(share.sanity for share in shares) == whole.sanity
        assert sum(share.stain for share in shares) == whole.stain
