"""Run the selected explanation methods over the explained patches, one cache entry per patch.

Each patch is explained on its own with a seed derived from the run seed and
the patch's index in its split, so a patch's map does not depend on which
other patches are in the report: adding patches computes only the new ones,
and a cached map equals a freshly computed one.  Perturbation methods still
batch their samples (LIME's 1000 samples per patch run in batches of
``batch_size``); the curves batch across patches (:mod:`reportgen.pipeline.score`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig
from reportgen.explain import get_explainer
from reportgen.pipeline.join import join
from reportgen.runtime import derive_seed

logger = logging.getLogger(__name__)


@dataclass
class MethodResult:
    """One method's maps for all explained patches, in patch order.

    Attributes
    ----------
    name, title, reference : registry name, display title and the method's paper.
    signed : whether the raw maps carry a sign (:attr:`~reportgen.explain.base.ExplainerInfo.signed`).
    maps : (N, H, W) float32 raw maps (metrics rank these).
    display_maps : (N, H, W) float32 in [0, 1] for the panels.
    settings : the method's settings (seed is the per-patch rule, see :func:`reportgen.runtime.derive_seed`).
    seconds, forward_passes, backward_passes : spent in this run (cached patches cost nothing).
    cached : how many patches came from the cache.
    warnings : method warnings (deduplicated): those of single patches, then those drawn from all patches' extras.
    patch_warnings : the warnings of single patches alone (deduplicated).
    extras : (N,) per-patch diagnostics, e.g. IG's completeness delta.
    """

    name: str
    title: str
    reference: str
    maps: np.ndarray
    display_maps: np.ndarray
    settings: dict
    seconds: float = 0.0
    forward_passes: int = 0
    backward_passes: int = 0
    cached: int = 0
    warnings: list[str] = field(default_factory=list)
    patch_warnings: list[str] = field(default_factory=list)
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    signed: bool = False

    @classmethod
    def join_chunks(cls, parts: list[MethodResult]) -> MethodResult:
        """One method's result over consecutive chunks (:func:`reportgen.pipeline.join.join`): costs added, extras
        joined (NaN for the patches of a chunk that has none of an extra), warnings taken again over all patches.

        The joined result holds no maps (``maps`` and ``display_maps`` are ``None``); the caller attaches
        the stored ones where they are read.
        """
        keys = sorted({key for part in parts for key in part.extras})
        extras = [{key: part.extras.get(key, np.full(len(part.maps), np.nan)) for key in keys} for part in parts]
        patch_warnings = []
        for part in parts:
            patch_warnings.extend(w for w in part.patch_warnings if w not in patch_warnings)
        joined = dataclasses.replace(
            parts[0], maps=None, display_maps=None, seconds=sum(p.seconds for p in parts),
            forward_passes=sum(p.forward_passes for p in parts), backward_passes=sum(p.backward_passes for p in parts),
            cached=sum(p.cached for p in parts), patch_warnings=patch_warnings,
            extras=join(extras))
        joined.warnings = result_warnings(joined)
        return joined


def patch_explainer(name: str, model: torch.nn.Module, patch_index: int, config: BuildConfig, *,
                    batch_size: int | None = None):
    """The explainer that explains one patch: the build's settings and the patch's own seed.

    Used for the report's maps, the sanity check's re-explanations and the
    benchmark's reference, so all three explain a patch identically.
    ``batch_size`` overrides ``config.batch_size`` (forward-pass grouping only).
    """
    return get_explainer(name).create(
        model, seed=derive_seed(config.seed, int(patch_index)),
        batch_size=config.batch_size if batch_size is None else batch_size,
        precision=config.precision, **config.settings_for(name),
    )


def result_warnings(result: MethodResult) -> list[str]:
    """``result.warnings``: each patch's warnings, then those the method draws from all patches' extras
    (e.g. Integrated Gradients' median completeness gap), so they are taken again when results are joined."""
    warnings = list(result.patch_warnings)
    summary = get_explainer(result.name).factory.summary_warnings(result.extras)
    warnings.extend(w for w in summary if w not in warnings)
    return warnings


def _valid_entry(stored: dict) -> bool:
    maps, display = stored["maps"], stored["display_maps"]
    return (maps.ndim == 3 and len(maps) == 1 and display.shape == maps.shape
            and stored["settings"].shape == () and stored["warnings"].ndim == 1)


def _explain_one(name: str, model, image: torch.Tensor, target: torch.Tensor, patch_index: int,
                 config: BuildConfig, result: MethodResult) -> dict[str, np.ndarray]:
    """One patch's cache entry, computed; the run's costs are added to ``result``."""
    explanation = patch_explainer(name, model, patch_index, config).explain(image, target)
    result.seconds += explanation.seconds
    result.forward_passes += explanation.forward_passes
    result.backward_passes += explanation.backward_passes
    return {"maps": explanation.maps, "display_maps": explanation.normalised(),
            "settings": np.array(json.dumps(explanation.settings, sort_keys=True)),
            "warnings": np.array(explanation.warnings, dtype=str),
            **{f"extra_{k}": np.asarray(v) for k, v in explanation.extras.items()}}


def explain_patches(model: torch.nn.Module, images: torch.Tensor, targets: torch.Tensor, patch_indices: np.ndarray,
                    *, config: BuildConfig, cache: ArrayCache, cache_context: dict,
                    progress: bool = True) -> dict[str, MethodResult]:
    """Explain every patch with every method of ``config.methods``.

    Parameters
    ----------
    model : classifier on (N, 3, H, W) float in [0, 1].
    images : (N, 3, H, W) float in [0, 1].
    targets : (N,) long, the class each explanation is for.
    patch_indices : (N,) int, each patch's index in its split (seeds and cache keys).
    config : the build configuration (methods, seed, batch size, precision, method settings).
    cache : where per-patch maps are kept between runs.
    cache_context : what else determines a map (checkpoint hash, data fingerprint, split).
    """
    results = {}
    for name in config.methods:
        info = get_explainer(name)
        # The model's own defaults (a CAM's target layer) are part of the key, as they determine the maps.
        settings = info.factory.resolve_settings({**info.factory.model_defaults(model), **config.settings_for(name)})
        result = MethodResult(name=name, title=info.title, reference=info.reference, maps=None, display_maps=None,
                              settings={}, signed=info.signed)
        entries = []
        for position, patch_index in enumerate(tqdm(patch_indices, desc=f"explain {name}", disable=not progress,
                                                    unit="patch")):
            # precision changes perturbation methods' maps (bf16 forwards), so it is part of the key.
            key = cache.key(kind="explanation", method=name, settings=settings, patch=int(patch_index),
                            target=int(targets[position]), seed=config.seed, precision=config.precision,
                            **cache_context)
            entry, hit = cache.memo(key, lambda: _explain_one(
                name, model, images[position : position + 1], targets[position : position + 1], int(patch_index),
                config, result), _valid_entry)
            result.cached += hit
            result.settings = json.loads(str(entry["settings"]))
            result.patch_warnings.extend(str(w) for w in entry["warnings"] if str(w) not in result.patch_warnings)
            entries.append(entry)
        result.maps = np.concatenate([entry["maps"] for entry in entries]).astype(np.float32)
        result.display_maps = np.concatenate([entry["display_maps"] for entry in entries]).astype(np.float32)
        result.settings = {**result.settings, "seed": f"per patch: SeedSequence([{config.seed}, patch index])"}
        extras = sorted({key[len("extra_"):] for entry in entries for key in entry if key.startswith("extra_")})
        for extra in extras:
            result.extras[extra] = np.concatenate(
                [np.atleast_1d(entry.get(f"extra_{extra}", np.nan)) for entry in entries]).astype(np.float64)
        result.warnings = result_warnings(result)
        logger.info("%s: %d patches (%d cached) in %.1f s", name, len(images), result.cached, result.seconds)
        results[name] = result
    return results
