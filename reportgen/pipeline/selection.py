"""The explained patches, chosen once: which they are, what the model said of them, and how many each step takes.

:func:`select_patches` draws the patches from the evaluated ones (:func:`reportgen.data.select_cases`) and puts
them in split order; the :class:`Selection` it returns carries them through the build to the document, so a
patch's id (:func:`patch_id`) and its label, prediction and target are written in one place.
:func:`leading_patches` decides how many of the first patches the sanity and stain steps take, for a whole report
and for a shard's share of one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reportgen.data import select_cases


def patch_id(split: str, index: int) -> str:
    """``"valid:1234"``: a patch's split and its index there, how the report, the store and the shards name it."""
    return f"{split}:{int(index)}"


@dataclass(frozen=True, eq=False)
class Selection:
    """The explained patches in report order (their order in the split).

    Attributes
    ----------
    split : the split they come from (``"valid"`` or ``"test"``).
    indices : (N,) int, each patch's index in the split.
    labels, predictions : (N,) int, the true class and the model's.
    probabilities : (N, 2) float, the model's softmax outputs.
    targets : (N,) int, the class each patch is explained for (``--target``: the prediction or the label).
    strata : N of "TP", "TN", "FP", "FN".
    slide_ids : N slide ids, or ``None`` when the split has none.
    description : how the patches were chosen (:func:`reportgen.data.select_cases`).
    """

    split: str
    indices: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray
    targets: np.ndarray
    strata: tuple[str, ...]
    slide_ids: list[str] | None
    description: str

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def patch_ids(self) -> list[str]:
        """N ids, ``split:index`` (:func:`patch_id`)."""
        return [patch_id(self.split, index) for index in self.indices]


def select_patches(split: str, evaluated: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, *, count: int,
                   seed: int, target: str, slide_ids: np.ndarray | None = None, by_slide: bool = False) -> Selection:
    """Choose ``count`` of the evaluated patches, stratified by outcome (and by slide with ``by_slide``).

    Parameters
    ----------
    split : the split's name.
    evaluated : (M,) int, the split indices of the evaluated patches.
    labels : (M,) int; probabilities : (M, 2) float, the model's outputs on them.
    count : how many to choose (``--images``); seed : the run seed.
    target : ``"predicted"`` or ``"label"``, the class each patch is explained for.
    slide_ids : (M,) slide ids of the evaluated patches, or None (default) when the split has none.
    by_slide : also stratify by slide where ``slide_ids`` are given (``--by-slide``, the default).
    """
    predictions = probabilities.argmax(axis=1)
    chosen, strata, description = select_cases(labels, predictions, probabilities.max(axis=1), count, seed=seed,
                                                slide_ids=slide_ids if by_slide else None)
    order = np.argsort(evaluated[chosen], kind="stable")  # report patches in split order
    chosen, strata = chosen[order], [strata[i] for i in order]
    return Selection(split=split, indices=evaluated[chosen], labels=labels[chosen], predictions=predictions[chosen],
                     probabilities=probabilities[chosen],
                     targets=predictions[chosen] if target == "predicted" else labels[chosen],
                     strata=tuple(strata),
                     slide_ids=None if slide_ids is None else list(slide_ids[chosen]), description=description)


@dataclass(frozen=True)
class Leading:
    """How many of the first patches at hand the sanity and the stain step take (0 skips the step)."""

    sanity: int
    stain: int

    @property
    def count(self) -> int:
        """The first patches either step reads (their maps are kept from the chunks)."""
        return max(self.sanity, self.stain)


def leading_patches(positions: np.ndarray, *, sanity_images: int, stain_images: int) -> Leading:
    """The sanity and stain steps take the report's first ``sanity_images`` and ``stain_images`` patches.

    ``positions`` are the report positions of the patches at hand, ascending: ``range(N)`` for a report, a shard's
    share (:func:`reportgen.pipeline.shards.shard_positions`) for a shard.  The patches at hand among the report's
    first ones lead them, so the shards of a run take exactly the report's patches between them.
    """
    positions = np.asarray(positions)
    return Leading(sanity=int((positions < sanity_images).sum()), stain=int((positions < stain_images).sum()))
