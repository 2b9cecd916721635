"""The model-parameter randomisation check of every method (Adebayo et al., "Sanity Checks for
Saliency Maps", NeurIPS 2018) on the first ``--sanity-images`` explained patches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from reportgen.build.explain import MethodResult, patch_explainer
from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig
from reportgen.metrics.sanity import SIMILARITY_THRESHOLD, cascading_randomisation

#: Cascade stages of the sanity check for a ResNet-18 classifier, head first.  The
#: head and the last block are randomised one at a time; the rest together, which
#: keeps the check affordable for LIME (every stage re-explains every patch).
SANITY_STAGES = (
    ("backbone.fc",),
    ("backbone.layer4",),
    ("backbone.layer3", "backbone.layer2", "backbone.layer1", "backbone.conv1", "backbone.bn1"),
)


@dataclass
class SanityOutcome:
    """One method's randomisation check.

    Attributes
    ----------
    stages : the cascade's stage names, head first.
    per_image : (stages, n) Spearman similarity of each patch's map after each stage to its original map.
    threshold : the method passes when the mean similarity after the last stage is below it.
    """

    stages: list[str]
    per_image: np.ndarray
    threshold: float = SIMILARITY_THRESHOLD

    @property
    def similarity(self) -> np.ndarray:
        """(stages,) mean similarity after each stage."""
        return self.per_image.mean(axis=1)

    @property
    def passed(self) -> bool:
        return bool(self.similarity[-1] < self.threshold)


def sanity_checks(model, images: torch.Tensor, targets: torch.Tensor, patch_indices, methods: dict[str, MethodResult],
                  *, config: BuildConfig, cache: ArrayCache, cache_context: dict) -> dict[str, SanityOutcome]:
    """Cascading randomisation of every method on the first ``config.sanity_images`` patches.

    Per-patch similarities are cached: re-initialisation is seeded per stage,
    not per image set, so a patch's similarities do not depend on the others.

    Returns
    -------
    method name -> :class:`SanityOutcome`.
    """
    count = min(config.sanity_images, len(images))
    stage_names = ["+".join(stage) for stage in SANITY_STAGES]
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
                                              layers=[list(stage) for stage in SANITY_STAGES],
                                              original_maps=result.maps[missing])
            return [{"similarity": outcome.per_image[:, column]} for column in range(len(missing))]

        entries, _ = cache.memo_rows(keys, compute, lambda entry: entry["similarity"].shape == (len(SANITY_STAGES),))
        per_image = np.stack([entry["similarity"] for entry in entries], axis=1) if entries else \
            np.empty((len(SANITY_STAGES), 0))
        outcomes[name] = SanityOutcome(stages=stage_names, per_image=per_image.astype(np.float64))
    return outcomes
