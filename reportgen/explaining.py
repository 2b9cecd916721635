"""Run the selected explanation methods over the explained patches, one cache entry per patch.

Each patch is explained on its own with a seed derived from the run seed and
the patch's index in its split, so a patch's map does not depend on which
other patches are in the report: adding patches computes only the new ones,
and a cached map equals a freshly computed one.  Perturbation methods still
batch their samples (LIME's 1000 samples per patch run in batches of
``batch_size``); the curves batch across patches (:mod:`reportgen.scoring`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from reportgen.cache import ArrayCache, cache_key
from reportgen.explain import get_explainer

logger = logging.getLogger(__name__)


def patch_seed(seed: int, patch_index: int) -> int:
    """A 31-bit seed for one patch, from the run seed and the patch's index in its split."""
    return int(np.random.SeedSequence([seed, patch_index]).generate_state(1)[0] & 0x7FFFFFFF)


@dataclass
class MethodResult:
    """One method's maps for all explained patches, in patch order.

    Attributes
    ----------
    maps : (N, H, W) float32 raw maps (metrics rank these).
    display_maps : (N, H, W) float32 in [0, 1] for the panels.
    settings : the method's settings (seed is the per-patch rule, see :func:`patch_seed`).
    seconds, forward_passes, backward_passes : spent in this run (cached patches cost nothing).
    cached : how many patches came from the cache.
    warnings : method warnings (deduplicated).
    extras : (N,) per-patch diagnostics, e.g. IG's completeness delta.
    """

    name: str
    title: str
    maps: np.ndarray
    display_maps: np.ndarray
    settings: dict
    seconds: float = 0.0
    forward_passes: int = 0
    backward_passes: int = 0
    cached: int = 0
    warnings: list[str] = field(default_factory=list)
    extras: dict[str, np.ndarray] = field(default_factory=dict)


def method_settings(name: str, config) -> dict:
    """The method-specific settings a build configuration implies for method ``name``."""
    if name == "integrated_gradients":
        return {"n_steps": config.ig_steps, "baseline": config.ig_baseline}
    if name in ("grad_cam", "grad_cam_pp"):
        return {"target_layer": config.grad_cam_layer}
    if name == "lime":
        return {"num_samples": config.lime_samples}
    return {}


def patch_explainer(name: str, model: torch.nn.Module, patch_index: int, config, *, batch_size: int | None = None):
    """The explainer that explains one patch: the build's settings and the patch's own seed.

    Used for the report's maps, the sanity check's re-explanations and the
    benchmark's reference, so all three explain a patch identically.
    ``batch_size`` overrides ``config.batch_size`` (forward-pass grouping only).
    """
    return get_explainer(name).create(
        model, seed=patch_seed(config.seed, int(patch_index)),
        batch_size=config.batch_size if batch_size is None else batch_size,
        precision=config.precision, **method_settings(name, config),
    )


def explain_patches(
    model: torch.nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    patch_indices: np.ndarray,
    *,
    methods: tuple[str, ...],
    config,
    cache: ArrayCache,
    cache_context: dict,
    progress: bool = True,
) -> dict[str, MethodResult]:
    """Explain every patch with every method.

    Parameters
    ----------
    model : classifier on (N, 3, H, W) float in [0, 1].
    images : (N, 3, H, W) float in [0, 1].
    targets : (N,) long, the class each explanation is for.
    patch_indices : (N,) int, each patch's index in its split (seeds and cache keys).
    methods : registry names.
    config : the build configuration (seed, batch size, precision, method settings).
    cache : where per-patch maps are kept between runs.
    cache_context : what else determines a map (checkpoint hash, data fingerprint, split).
    """
    results = {}
    for name in methods:
        info = get_explainer(name)
        settings = method_settings(name, config)
        maps, display, extras_by_patch = [], [], []
        result = MethodResult(name=name, title=info.title, maps=None, display_maps=None, settings={})
        bar = tqdm(total=len(images), desc=f"explain {name}", disable=not progress, unit="patch")
        for position, patch_index in enumerate(patch_indices):
            # precision changes perturbation methods' maps (bf16 forwards), so it is part of the key.
            key = cache_key(kind="explanation", method=name, settings=settings, patch=int(patch_index),
                            target=int(targets[position]), seed=config.seed, precision=config.precision,
                            **cache_context)
            stored = cache.get(key)
            if stored is not None and {"maps", "display_maps", "settings", "warnings"} <= stored.keys():
                result.cached += 1
                patch_maps, patch_display = stored["maps"], stored["display_maps"]
                patch_extras = {k[len("extra_"):]: v for k, v in stored.items() if k.startswith("extra_")}
                result.settings = json.loads(str(stored["settings"]))
                result.warnings.extend(str(w) for w in stored["warnings"] if str(w) not in result.warnings)
            else:
                explainer = patch_explainer(name, model, patch_index, config)
                explanation = explainer.explain(images[position : position + 1], targets[position : position + 1])
                patch_maps = explanation.maps
                patch_display = explanation.normalised()
                patch_extras = {k: np.asarray(v) for k, v in explanation.extras.items()}
                result.seconds += explanation.seconds
                result.forward_passes += explanation.forward_passes
                result.backward_passes += explanation.backward_passes
                result.warnings.extend(w for w in explanation.warnings if w not in result.warnings)
                result.settings = explanation.settings
                cache.put(key, {"maps": patch_maps, "display_maps": patch_display,
                                "settings": np.array(json.dumps(explanation.settings, sort_keys=True)),
                                "warnings": np.array(explanation.warnings, dtype=str),
                                **{f"extra_{k}": v for k, v in patch_extras.items()}})
            maps.append(patch_maps)
            display.append(patch_display)
            extras_by_patch.append(patch_extras)
            bar.update(1)
        bar.close()
        result.maps = np.concatenate(maps).astype(np.float32)
        result.display_maps = np.concatenate(display).astype(np.float32)
        result.settings = {**result.settings, "seed": f"per patch: SeedSequence([{config.seed}, patch index])"}
        for extra in set().union(*extras_by_patch) if extras_by_patch else ():
            result.extras[extra] = np.concatenate(
                [np.atleast_1d(p.get(extra, np.nan)) for p in extras_by_patch]
            ).astype(np.float64)
        logger.info("%s: %d patches (%d cached) in %.1f s", name, len(images), result.cached, result.seconds)
        results[name] = result
    return results
