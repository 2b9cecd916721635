"""The model-parameter randomisation check of every method (Adebayo et al., "Sanity Checks for
Saliency Maps", NeurIPS 2018) on the first ``--sanity-images`` explained patches, with the Sobel
edge map run through the same cascade as a positive control that must fail."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig
from reportgen.metrics.references import REFERENCE_MAPS
from reportgen.metrics.sanity import (
    SIMILARITY_THRESHOLD,
    cascading_randomisation,
    decide,
    mean_interval,
    randomisation_stages,
)
from reportgen.pipeline.explain import MethodResult, patch_explainer

#: Reference maps run through the cascade as positive controls: each ignores the model by
#: construction, so the check must fail it; if it does not, the check itself is broken.
CONTROLS = ("sobel",)


@dataclass
class SanityOutcome:
    """One map's randomisation check (a method's, or a control's).

    Attributes
    ----------
    stages : the cascade's stage names, head first.
    per_image : (stages, n) Spearman similarity of each patch's map after each stage to its original map.
    threshold : compared with the 95 % interval of the mean similarity after the last stage
        (:func:`reportgen.metrics.sanity.decide`).
    """

    stages: list[str]
    per_image: np.ndarray
    threshold: float = SIMILARITY_THRESHOLD

    @property
    def similarity(self) -> np.ndarray:
        """(stages,) mean similarity after each stage."""
        return self.per_image.mean(axis=1)

    @property
    def ci95(self) -> tuple[float, float]:
        """Student t interval of the mean final similarity; ``(nan, nan)`` below 2 patches."""
        return mean_interval(self.per_image[-1])

    @property
    def outcome(self) -> str:
        """``passed``, ``inconclusive`` or ``failed``."""
        return decide(self.per_image[-1], threshold=self.threshold)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


def _stage_names(stages: list[list[str]]) -> list[str]:
    return ["+".join(stage) for stage in stages]


def sanity_checks(model, images: torch.Tensor, targets: torch.Tensor, patch_indices, methods: dict[str, MethodResult],
                  *, config: BuildConfig, cache: ArrayCache, cache_context: dict,
                  stages: list[list[str]] | None = None) -> dict[str, SanityOutcome]:
    """Cascading randomisation of every method on the patches given (the build gives the first ``--sanity-images``,
    :func:`reportgen.pipeline.selection.leading_patches`).

    Per-patch similarities are cached: re-initialisation is seeded per stage,
    not per image set, so a patch's similarities do not depend on the others.

    Parameters
    ----------
    stages : cascade stages, head first (default None: :func:`randomisation_stages`, one per
        block; six for ResNet-18).  Every stage re-explains every patch with every method.

    Returns
    -------
    method name -> :class:`SanityOutcome`.
    """
    count = len(images)
    stages = randomisation_stages(model) if stages is None else [list(stage) for stage in stages]
    stage_names = _stage_names(stages)
    outcomes = {}
    for name, result in methods.items():
        keys = [cache.key(kind="sanity", method=name, settings=result.settings, patch=int(patch_indices[i]),
                          target=int(targets[i]), seed=config.seed, stages=stage_names, **cache_context)
                for i in range(count)]

        def compute(missing: list[int], name=name, result=result) -> list[dict[str, np.ndarray]]:
            patches = [int(patch_indices[i]) for i in missing]

            def explain_fn(randomised_model, batch_images, batch_targets):
                # Each patch is re-explained with its own seed, exactly as for the report's maps.
                return np.concatenate([
                    patch_explainer(name, randomised_model, patches[j], config)
                    .explain(batch_images[j : j + 1], batch_targets[j : j + 1]).maps
                    for j in range(len(batch_images))
                ])

            rows = torch.as_tensor(missing)
            outcome = cascading_randomisation(model, explain_fn, images[rows], targets[rows], seed=config.seed,
                                              layers=stages, original_maps=result.maps[missing])
            return [{"similarity": outcome.per_image[:, column]} for column in range(len(missing))]

        entries, _ = cache.memo_rows(keys, compute, lambda entry: entry["similarity"].shape == (len(stages),))
        per_image = np.stack([entry["similarity"] for entry in entries], axis=1) if entries else \
            np.empty((len(stages), 0))
        outcomes[name] = SanityOutcome(stages=stage_names, per_image=per_image.astype(np.float64))
    return outcomes


def sanity_controls(model, images: torch.Tensor, targets: torch.Tensor, *, config: BuildConfig,
                    stages: list[list[str]] | None = None) -> dict[str, SanityOutcome]:
    """The positive controls of :data:`CONTROLS` through the same cascade, on the same patches.

    A reference map ignores the model, so its similarity stays at 1 and the
    check must call it ``failed``; anything else means the similarity, the
    cascade or the decision rule is broken, and the report says so.  Costs a
    model copy and a few Sobel filters: not cached.

    Returns
    -------
    control name -> :class:`SanityOutcome`.
    """
    stages = randomisation_stages(model) if stages is None else [list(stage) for stage in stages]
    outcomes = {}
    for name in CONTROLS:
        reference = REFERENCE_MAPS[name]

        def explain_fn(_model, batch_images, _targets, reference=reference):
            return reference(batch_images, seed=config.seed)

        result = cascading_randomisation(model, explain_fn, images, targets, seed=config.seed, layers=stages)
        outcomes[name] = SanityOutcome(stages=_stage_names(stages), per_image=result.per_image.astype(np.float64))
    return outcomes
