"""Explain and score the patches a chunk at a time, so memory does not grow with the number of patches.

Every per-patch step is independent of the other patches explained with it: seeds derive from
the patch's index in its split, and the curves never put two patches in one batch (which is also
why a sharded build equals an unsharded one, :mod:`reportgen.pipeline.shards`).  The build therefore
takes :data:`PATCHES_PER_CHUNK` patches at a time through explanation, curves, localisation,
agreement, stability and the right-for-the-right-reason step, writes the chunk's images, maps and
curves to the report's ``attributions.h5`` (:mod:`reportgen.pipeline.patch_store`) and keeps only its
per-patch numbers.  The ``join_*`` functions put the chunks' numbers back together in report order;
every statistic of the report is then taken over all patches, as before.

The sanity and stain steps run on the report's first patches only (``--sanity-images``,
``--stain-images``); their maps are kept from the chunks that hold them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from reportgen.data import as_float_tensor
from reportgen.metrics.agreement import combine_agreement
from reportgen.pipeline.evidence import EvidenceOutcome, evidence_checks
from reportgen.pipeline.explain import MethodResult, explain_patches, result_warnings
from reportgen.pipeline.patch_store import PatchStore
from reportgen.pipeline.score import CurveSet, Scores, score_maps
from reportgen.pipeline.stability import BaselineSensitivity, Repeatability, StabilityOutcome, stability_checks

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
    methods = {name: join_method_results([part[0][name] for part in parts]) for name in config.methods}
    return PatchResults(
        methods=methods, scores=join_scores([part[1] for part in parts]),
        stability=None if not config.stability else join_stability([part[2] for part in parts]),
        evidence=None if not evidence else join_evidence([part[3] for part in parts]),
        leading_maps={name: np.concatenate(values) for name, values in leading_parts.items()})


def _join(arrays) -> np.ndarray:
    return np.concatenate([np.asarray(a) for a in arrays])


def join_method_results(parts: list[MethodResult]) -> MethodResult:
    """One method's result over consecutive chunks: costs added, extras joined, warnings taken again.

    The joined result holds no maps (``maps`` and ``display_maps`` are ``None``); the caller attaches
    the stored ones where they are read.
    """
    lengths = [len(part.maps) for part in parts]
    extras = sorted({key for part in parts for key in part.extras})
    patch_warnings = []
    for part in parts:
        patch_warnings.extend(w for w in part.patch_warnings if w not in patch_warnings)
    joined = dataclasses.replace(
        parts[0], maps=None, display_maps=None, seconds=sum(p.seconds for p in parts),
        forward_passes=sum(p.forward_passes for p in parts), backward_passes=sum(p.backward_passes for p in parts),
        cached=sum(p.cached for p in parts), patch_warnings=patch_warnings,
        extras={key: _join(part.extras.get(key, np.full(length, np.nan)) for part, length in zip(parts, lengths))
                for key in extras})
    joined.warnings = result_warnings(joined)
    return joined


def join_curve_sets(parts: list[CurveSet]) -> CurveSet:
    return CurveSet(deletion=_join(p.deletion for p in parts), insertion=_join(p.insertion for p in parts),
                    least_first=_join(p.least_first for p in parts))


def join_scores(parts: list[Scores]) -> Scores:
    """The :class:`~reportgen.pipeline.score.Scores` of all chunks: per-patch values joined, agreement means taken again."""
    first = parts[0]
    return Scores(
        curves={name: join_curve_sets([p.curves[name] for p in parts]) for name in first.curves},
        reference_names=first.reference_names,
        substrate_aucs={substrate: {metric: {name: _join(p.substrate_aucs[substrate][metric][name] for p in parts)
                                             for name in by_name}
                                    for metric, by_name in by_metric.items()}
                        for substrate, by_metric in first.substrate_aucs.items()},
        agreement=combine_agreement([p.agreement for p in parts]),
        localisation={name: {metric: None if values is None else _join(p.localisation[name][metric] for p in parts)
                             for metric, values in by_metric.items()}
                      for name, by_metric in first.localisation.items()},
        curve_forward_passes=sum(p.curve_forward_passes for p in parts),
        substrate_drift={substrate: tuple(_join(p.substrate_drift[substrate][k] for p in parts) for k in range(2))
                         for substrate in first.substrate_drift})


def join_evidence(parts: list[EvidenceOutcome]) -> EvidenceOutcome:
    first = parts[0]
    return dataclasses.replace(
        first, tumour_clean=_join(p.tumour_clean for p in parts),
        without_periphery=_join(p.without_periphery for p in parts),
        without_centre=_join(p.without_centre for p in parts),
        shares={name: {region: _join(p.shares[name][region] for p in parts) for region in regions}
                for name, regions in first.shares.items()},
        mask_area=None if first.mask_area is None else _join(p.mask_area for p in parts),
        periphery_only=None if first.periphery_only is None else _join(p.periphery_only for p in parts))


def _join_similarity(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: _join(p[key] for p in parts) for key in parts[0]}


def join_stability(parts: list[StabilityOutcome]) -> StabilityOutcome:
    """The stability measurements of all chunks: per-patch similarities and curves joined, seconds added."""
    first = parts[0]
    joined = StabilityOutcome(skipped=first.skipped)
    if first.lime_seeds is not None:
        measures = [p.lime_seeds for p in parts]
        joined.lime_seeds = Repeatability(
            method=first.lime_seeds.method, seed_rule=first.lime_seeds.seed_rule,
            second=join_method_results([m.second for m in measures]),
            similarity=_join_similarity([m.similarity for m in measures]), seconds=sum(m.seconds for m in measures))
    if first.ig_baselines is not None:
        measures = [p.ig_baselines for p in parts]
        joined.ig_baselines = BaselineSensitivity(
            method=first.ig_baselines.method, used=first.ig_baselines.used,
            results={b: join_method_results([m.results[b] for m in measures]) for b in first.ig_baselines.results},
            curves={b: join_curve_sets([m.curves[b] for m in measures]) for b in first.ig_baselines.curves},
            pairs=[(a, b, _join_similarity([m.pairs[k][2] for m in measures]))
                   for k, (a, b, _) in enumerate(first.ig_baselines.pairs)],
            seconds=sum(m.seconds for m in measures))
    if first.grad_cam_layers is not None:
        measures = [p.grad_cam_layers for p in parts]
        joined.grad_cam_layers = dataclasses.replace(
            first.grad_cam_layers,
            curves={layer: join_curve_sets([m.curves[layer] for m in measures]) for layer in first.grad_cam_layers.curves},
            seconds=sum(m.seconds for m in measures))
    return joined
