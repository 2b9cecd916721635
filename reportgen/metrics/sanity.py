"""Model-parameter randomisation test (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018).

On a deep copy of the model, weights are re-initialised stage by stage,
cascading from the head towards the input; after each stage the explanation is
recomputed and compared with the original by the Spearman rank correlation of
the absolute maps.  A method whose maps barely change once the whole model is
destroyed explains the image, not the model, and is flagged.

The decision is made on evidence, not on a mean alone: the per-patch
similarities after the last stage get a two-sided 95 % Student t interval of
their mean (:func:`mean_interval`), and :func:`decide` passes a method only when
the whole interval lies below the threshold, fails it when the whole interval
lies at or above it, and calls it inconclusive otherwise.

The explanation is passed in as a function, so this module does not depend on
any particular method::

    def explain_fn(model, images, targets):
        return get_explainer(name).create(model, seed=seed).explain(images, targets).maps
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from torch import nn

from reportgen.errors import ConfigError
from reportgen.metrics.agreement import spearman_full
from reportgen.model.feature_layers import feature_trunk, has_parameters, is_transformer_block

logger = logging.getLogger(__name__)

#: The method passes when its mean similarity after full randomisation is, with 95 % confidence, below this.
SIMILARITY_THRESHOLD = 0.5

#: Coverage of the interval of the mean final similarity.
CONFIDENCE = 0.95

#: How the interval is computed, as report.json and the report state it.
INTERVAL_METHOD = "two-sided Student t interval of the mean; patches taken as independent"

#: ``passed``: the interval lies below the threshold; ``failed``: it lies at or above it (the maps
#: do not depend on the model); ``inconclusive``: it straddles the threshold, or fewer than 2 patches.
OUTCOMES = ("passed", "inconclusive", "failed")

ExplainFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], np.ndarray]

_NORMALISATION_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


@dataclass(frozen=True)
class SanityResult:
    """Similarity of the explanation to the original after each randomisation stage.

    Attributes
    ----------
    stages : names of the stages, head first; stage k randomises stages 0..k.
    similarity : (S,) mean over images of the Spearman rank correlation of absolute maps.
    per_image : (S, N) the same per image.
    threshold : :data:`SIMILARITY_THRESHOLD` unless overridden.
    ci95 : (low, high) :func:`mean_interval` of ``per_image[-1]``.
    outcome : :func:`decide` on ``per_image[-1]``; ``failed`` flags a model-independent method.
    passed : ``outcome == "passed"``.
    """

    stages: tuple[str, ...]
    similarity: np.ndarray
    per_image: np.ndarray
    threshold: float
    ci95: tuple[float, float]
    outcome: str

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def to_dict(self) -> dict:
        return {
            "stages": list(self.stages),
            "similarity": [float(v) for v in self.similarity],
            "threshold": self.threshold,
            "ci95": [float(v) for v in self.ci95],
            "outcome": self.outcome,
            "passed": self.passed,
        }


def mean_interval(values, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided Student t interval of the mean of per-patch similarities.

    A t interval rather than the percentile bootstrap used elsewhere in the
    report: the check runs on about ten patches, where the bootstrap's plug-in
    spread and normal-like quantiles make the interval too narrow, and a
    decision that passes a method should not lean on an interval that is
    optimistic at small N.  It also needs no seed.

    Parameters
    ----------
    values : (N,) per-patch similarities; non-finite ones are dropped.
    confidence : coverage (default :data:`CONFIDENCE`, 0.95).

    Returns
    -------
    (low, high); ``(nan, nan)`` for fewer than 2 values, ``(m, m)`` when every value is ``m``.
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence={confidence!r} must lie strictly between 0 and 1 (e.g. 0.95)")
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    mean = float(values.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, df=len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean - half, mean + half


def decide(values, *, threshold: float = SIMILARITY_THRESHOLD, confidence: float = CONFIDENCE) -> str:
    """The check's outcome (one of :data:`OUTCOMES`) from the per-patch final similarities.

    Parameters
    ----------
    values : (N,) Spearman similarity of each patch's map after the last stage to its original.
    threshold : similarity the interval is compared with (default 0.5).
    confidence : coverage of :func:`mean_interval` (default 0.95).
    """
    low, high = mean_interval(values, confidence=confidence)
    if not (np.isfinite(low) and np.isfinite(high)):
        return "inconclusive"  # one patch has no spread to judge
    if high < threshold:
        return "passed"
    if low >= threshold:
        return "failed"
    return "inconclusive"


#: A trunk with fewer parameterised children than this is a features + head pair (SqueezeNet, MobileNet,
#: EfficientNet, DenseNet, VGG, ConvNeXt: ``features``, ``classifier``), whose blocks sit one level down.
MIN_TRUNK_STAGES = 4


def randomisation_stages(model: nn.Module) -> list[list[str]]:
    """Cascade stages derived from the module order, head first (parameters a split module holds itself, such as
    a ViT's position embedding and class token, belong to no stage).

    The trunk is the first module (descending from ``model``) with more than one
    parameterised child (:func:`reportgen.model.feature_layers.feature_trunk`); each
    parameterised child is a stage, and a normalisation layer joins the stage of the
    layer before it.  For ``PCamClassifier`` with ResNet-18: ``backbone.fc``,
    ``backbone.layer4``, ``backbone.layer3``, ``backbone.layer2``, ``backbone.layer1``,
    then ``backbone.conv1`` with ``backbone.bn1``.  A stage holds at most one transformer block (a module
    with an attention layer among its children): a child holding several is split into its parameterised
    children, so a timm ViT gives ``backbone.head``, ``backbone.blocks.<last>`` with ``backbone.norm``, ...,
    ``backbone.blocks.0``, then ``backbone.patch_embed``.  A trunk with fewer than
    :data:`MIN_TRUNK_STAGES` parameterised children is a features + head pair, so each of
    its ``nn.Sequential`` children with several parameterised children is split into them:
    SqueezeNet 1.1 gives ``backbone.classifier``, then ``backbone.features.12`` ... ``backbone.features.0``.

    Returns
    -------
    List of stages, each a list of qualified module names.
    """
    prefix, trunk = feature_trunk(model)
    children = [(prefix + name, child) for name, child in trunk.named_children() if has_parameters(child)]
    if len(children) < MIN_TRUNK_STAGES:
        children = [part for name, child in children for part in _split(name, child)]
    children = [part for name, child in children for part in _transformer_blocks(name, child)]
    stages: list[list[str]] = []
    for name, child in children:
        if stages and isinstance(child, _NORMALISATION_LAYERS):
            stages[-1].append(name)
        else:
            stages.append([name])
    return stages[::-1]


def _attention_blocks(module: nn.Module) -> int:
    """How many modules under (and including) ``module`` hold an attention layer among their children."""
    return sum(1 for inner in module.modules() if is_transformer_block(inner))


def _transformer_blocks(name: str, module: nn.Module) -> list[tuple[str, nn.Module]]:
    """``module`` as stages holding at most one transformer block each: itself, or its parameterised children,
    each split in turn."""
    if _attention_blocks(module) <= 1:
        return [(name, module)]
    return [part for child_name, child in module.named_children() if has_parameters(child)
            for part in _transformer_blocks(f"{name}.{child_name}", child)]


def _split(name: str, module: nn.Module) -> list[tuple[str, nn.Module]]:
    """A Sequential's parameterised children, or ``module`` itself when it is not a Sequential of several."""
    parts = [(f"{name}.{child_name}", child) for child_name, child in module.named_children() if has_parameters(child)]
    return parts if isinstance(module, nn.Sequential) and len(parts) > 1 else [(name, module)]


def _reinitialise(module: nn.Module) -> None:
    for submodule in module.modules():
        if hasattr(submodule, "reset_parameters"):
            submodule.reset_parameters()
        if hasattr(submodule, "reset_running_stats"):
            submodule.reset_running_stats()


def _absolute_similarity(original: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Spearman of absolute maps; a constant map keeps none of the original ranking, so it scores 0."""
    similarity = spearman_full(np.abs(original), np.abs(current))
    return np.nan_to_num(similarity, nan=0.0)


def cascading_randomisation(
    model: nn.Module,
    explain_fn: ExplainFn,
    images: torch.Tensor,
    targets: torch.Tensor,
    *,
    seed: int,
    layers: list[list[str]] | None = None,
    threshold: float = SIMILARITY_THRESHOLD,
    original_maps: np.ndarray | None = None,
) -> SanityResult:
    """Cascading model-parameter randomisation (Adebayo et al., 2018).

    Parameters
    ----------
    model : classifier taking (N, 3, H, W) float in [0, 1]; never modified (a deep copy is randomised).
    explain_fn : ``explain_fn(model, images, targets) -> (N, H, W)`` maps; seed any sampling
        inside it (e.g. LIME's ``random_state``) so the comparison is not noise.
    images : (N, 3, H, W) float in [0, 1], a small subset of patches.
    targets : (N,) long tracked classes (kept fixed while the model is destroyed).
    seed : seeds the re-initialisation; stage k uses ``torch.manual_seed(seed + k)`` inside
        ``torch.random.fork_rng`` so the caller's global RNG state is untouched.
    layers : stages, head first, each a list of qualified module names (default None:
        :func:`randomisation_stages`).
    threshold : pass when the 95 % interval of the mean similarity after the last stage lies
        below it (default 0.5; :func:`decide`).
    original_maps : (N, H, W) maps of the unmodified model (default None: computed here).

    Returns
    -------
    :class:`SanityResult`; per-image similarity is the Spearman rank correlation of
    absolute maps at full resolution, with a constant map counted as 0.
    """
    stages = randomisation_stages(model) if layers is None else [list(stage) for stage in layers]
    if not stages:
        raise ConfigError("no layers to randomise: the model has no parameterised modules; pass layers=[[...], ...]")
    randomised = copy.deepcopy(model).eval()
    modules = dict(randomised.named_modules())
    for stage in stages:
        for name in stage:
            if name not in modules:
                raise ConfigError(f"layer {name!r} is not a module of the model; choose from: {', '.join(n for n in modules if n)}")
    if original_maps is None:
        original_maps = np.asarray(explain_fn(model, images, targets))
    devices = [parameter.device for parameter in randomised.parameters() if parameter.device.type == "cuda"][:1]
    per_image = []
    for index, stage in enumerate(stages):
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed + index)
            for name in stage:
                _reinitialise(modules[name])
        maps = np.asarray(explain_fn(randomised, images, targets))
        per_image.append(_absolute_similarity(original_maps, maps))
        logger.debug("randomised %s: similarity %.3f", "+".join(stage), per_image[-1].mean())
    per_image = np.stack(per_image)
    similarity = per_image.mean(axis=1)
    return SanityResult(
        stages=tuple("+".join(stage) for stage in stages),
        similarity=similarity,
        per_image=per_image,
        threshold=threshold,
        ci95=mean_interval(per_image[-1]),
        outcome=decide(per_image[-1], threshold=threshold),
    )
