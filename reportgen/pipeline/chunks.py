"""Explain and score the patches a chunk at a time, so memory does not grow with the number of patches.

Every per-patch step is independent of the other patches explained with it: seeds derive from
the patch's index in its split, and the curves never put two patches in one batch (which is also
why a sharded build equals an unsharded one, :mod:`reportgen.pipeline.shards`).  The build therefore
takes :data:`PATCHES_PER_CHUNK` patches at a time through explanation, curves, localisation,
agreement, stability and the right-for-the-right-reason step, writes the chunk's images, maps and
curves to the report's ``attributions.h5`` (:mod:`reportgen.pipeline.patch_store`) and keeps only its
per-patch numbers.  :func:`reportgen.pipeline.join.join` puts the chunks' numbers back together in report
order; every statistic of the report is then taken over all patches, as before.

The sanity and stain steps run on the report's first patches only (``--sanity-images``,
``--stain-images``); their maps are kept from the chunks that hold them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from reportgen.data import as_float_tensor
from reportgen.pipeline.evidence import EvidenceOutcome, evidence_checks
from reportgen.pipeline.explain import MethodResult, explain_patches
from reportgen.pipeline.join import join
from reportgen.pipeline.patch_store import PatchStore
from reportgen.pipeline.score import Scores, score_maps
from reportgen.pipeline.stability import StabilityOutcome, stability_checks

#: Patches explained and scored together. 64 patches hold about 7 MiB of float images and a few MiB of maps,
#: small beside the model's own working memory, and are enough for the curves' batches to stay full.
PATCHES_PER_CHUNK = 64


def chunk_bounds(count: int, size: int | None = None) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of at most ``size`` (default :data:`PATCHES_PER_CHUNK`) positions."""
    size = PATCHES_PER_CHUNK if size is None else size
    return [(start, min(start + size, count)) for start in range(0, count, size)]


@dataclass
class PatchResults:
    """The per-patch results of all chunks, joined in report order.

    ``methods`` carry no maps (they are in the store); ``leading_maps`` holds each method's maps of the
    first ``leading`` patches, for the steps that read only those (sanity, stain).
    """

    methods: dict[str, MethodResult]
    scores: Scores
    stability: StabilityOutcome | None
    evidence: EvidenceOutcome | None
    leading_maps: dict[str, np.ndarray]


def explain_and_score(model, split, patch_indices: np.ndarray, targets: np.ndarray, *, config, dataset_mean, cache,
                      cache_context: dict, watch, device, store: PatchStore | None, evidence: bool,
                      leading: int, progress: bool = True) -> PatchResults:
    """Run the per-patch steps chunk by chunk over ``patch_indices`` and join their results.

    Parameters
    ----------
    split : the data split the patches are read from (``split.read(indices)``).
    patch_indices : (N,) int, the patches in report order; targets : (N,) int, the class each is explained for.
    store : where each chunk's images, maps and curves go, or ``None`` (a shard keeps its results in the cache).
    evidence : also run the right-for-the-right-reason step (:func:`reportgen.pipeline.evidence.evidence_checks`).
    leading : how many of the first patches' maps to keep in memory for the sanity and stain steps.
    """
    bounds = chunk_bounds(len(patch_indices))
    # One bar over all patches when there are several chunks; a single chunk shows each step's own bars.
    inner_progress = progress and len(bounds) == 1
    bar = tqdm(total=len(patch_indices), desc="explain and score", unit="patch",
               disable=not progress or len(bounds) == 1)
    parts, leading_parts = [], {}
    for start, stop in bounds:
        batch = split.read(patch_indices[start:stop])
        images = as_float_tensor(batch.images).to(device)
        chunk_targets = torch.as_tensor(targets[start:stop], dtype=torch.long, device=device)
        chunk_indices = patch_indices[start:stop]
        with watch.stage("explain"):
            methods = explain_patches(model, images, chunk_targets, chunk_indices, config=config, cache=cache,
                                      cache_context=cache_context, progress=inner_progress)
        scores = score_maps(model, images, chunk_targets, chunk_indices, batch.masks, methods, config=config,
                            dataset_mean=dataset_mean, cache=cache, cache_context=cache_context, watch=watch,
                            progress=inner_progress)
        stability = None
        if config.stability:
            stability = stability_checks(model, images, chunk_targets, chunk_indices, methods, config=config,
                                         dataset_mean=dataset_mean, cache=cache, cache_context=cache_context,
                                         watch=watch, progress=inner_progress)
        outcome = None
        if evidence:
            with watch.stage("evidence"):
                outcome = evidence_checks(model, images, batch.masks,
                                          {name: result.maps for name, result in methods.items()},
                                          config=config, dataset_mean=dataset_mean)
        if store is not None:
            with watch.stage("store"):
                store.write(start, images=batch.images, masks=batch.masks,
                            maps={name: result.maps for name, result in methods.items()},
                            curves={name: {"deletion": curves.deletion, "insertion": curves.insertion,
                                           "least_first": curves.least_first}
                                    for name, curves in scores.curves.items()})
        if start < leading:
            for name, result in methods.items():
                leading_parts.setdefault(name, []).append(result.maps[: leading - start])
        parts.append((methods, scores, stability, outcome))
        bar.update(stop - start)
    bar.close()
    methods, scores, stability, outcome = join(parts)
    return PatchResults(methods=methods, scores=scores, stability=stability, evidence=outcome,
                        leading_maps={name: np.concatenate(values) for name, values in leading_parts.items()})
