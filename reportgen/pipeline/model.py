"""The build's model step: load ``--checkpoint`` or train (cached), and predict the evaluation split once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig
from reportgen.data import PCamDataset
from reportgen.errors import CheckpointError, ConfigError
from reportgen.explain import get_explainer, list_explainers
from reportgen.model.architectures import DEFAULT_ARCH
from reportgen.model.checkpoint import LoadedModel, load_checkpoint
from reportgen.model.evaluate import classification_metrics, predict_evaluation_set
from reportgen.model.network import PCamClassifier, parse_preprocessing


def load_given_checkpoint(config: BuildConfig, *, device: torch.device) -> LoadedModel | None:
    """``--checkpoint`` loaded and checked (layout, architecture, finite weights), or ``None`` without one."""
    if not config.checkpoint:
        # The model to be trained is checked by its structure alone (built on the meta device: no memory, no work).
        arch = config.arch or DEFAULT_ARCH
        with torch.device("meta"):
            structure = PCamClassifier(arch=arch)
        check_methods_fit(config.methods or (), arch, model=structure, config=config)
        return None
    preprocessing = parse_preprocessing(config.preprocessing) if config.preprocessing else None
    # Whether the network takes the patches is checked once their side is known (fit_to_patches, the data step).
    loaded = load_checkpoint(config.checkpoint, preprocessing=preprocessing, device=device, arch=config.arch,
                             input_size=config.input_size, check_input=False)
    check_methods_fit(config.methods or (), loaded.info["architecture"], model=loaded.model, config=config)
    return loaded


def check_methods_fit(methods, arch: str, *, model: torch.nn.Module | None = None,
                      config: BuildConfig | None = None) -> None:
    """Refuse, in one line, a method whose defaults name layers ``arch`` lacks (its ``architectures``), or that
    cannot run on ``model`` with ``config``'s settings (:meth:`reportgen.explain.Explainer.check_model`: a CAM on a
    transformer, a target layer the model lacks)."""
    misfits = [name for name in methods if get_explainer(name).factory.architectures not in (None, ())
               and arch not in get_explainer(name).factory.architectures]
    if misfits:
        others = [name for name in methods if name not in misfits] or [
            name for name in list_explainers() if get_explainer(name).factory.architectures is None][:2]
        supported = sorted({a for name in misfits for a in get_explainer(name).factory.architectures})
        raise ConfigError(f"{', '.join(misfits)} support{'s' if len(misfits) == 1 else ''} only "
                          f"{', '.join(supported)} models here, not {arch}; choose other methods, e.g. "
                          f"--methods {','.join(others)}")
    if model is None:
        return
    for name in methods:
        get_explainer(name).factory.check_model(model, config.settings_for(name) if config is not None else {})


def train_demo_model(config: BuildConfig, data: PCamDataset, *, cache_root: Path, device: torch.device,
                     progress: bool) -> LoadedModel:
    """The model trained on ``data`` with the recipe's settings (a cached checkpoint for the same ones is reused)."""
    from reportgen.model.settings import demo_train_settings
    from reportgen.model.train import train_or_load

    # The recipe picks its own defaults: the full recipe's demo epoch, or the
    # head recipe's 5 epochs on a stratified 10 % (the notebook's text).
    settings = demo_train_settings(config.recipe, weights=config.weights, seed=config.seed, epochs=config.epochs,
                                   train_fraction=config.train_fraction, arch=config.arch,
                                   input_size=config.input_size)
    return train_or_load(data, settings, cache_dir=cache_root, device=device, progress=progress)


def predict_evaluation_split(model: torch.nn.Module, split, *, config: BuildConfig, progress: bool,
                             cache: ArrayCache, cache_context: dict
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Predict the split once (or ``--eval-limit`` evenly spaced patches) and compute the model-card metrics.

    The predictions are cached by checkpoint hash, data fingerprint, split and
    limit, so regenerating a report does not re-run the whole split.

    Returns
    -------
    indices : (n,) int64 positions in the split that were predicted.
    probabilities : (n, 2) float32 softmax outputs.
    labels : (n,) int64.
    evaluation : :func:`reportgen.model.evaluate.classification_metrics` of those predictions.
    """
    def compute() -> dict[str, np.ndarray]:
        indices, probabilities, labels = predict_evaluation_set(model, split, limit=config.eval_limit,
                                                                batch_size=config.batch_size, progress=progress)
        return {"indices": indices, "probabilities": probabilities, "labels": labels}

    def valid(entry: dict) -> bool:
        n = len(entry["indices"])
        return entry["probabilities"].shape == (n, 2) and entry["labels"].shape == (n,)

    key = cache.key(kind="split-predictions", limit=config.eval_limit, **cache_context)
    entry, _ = cache.memo(key, compute, valid)
    broken = int((~np.isfinite(entry["probabilities"]).all(axis=1)).sum())
    if broken:
        raise CheckpointError(
            f"the model's outputs are NaN or infinite on {broken} of {len(entry['indices'])} evaluation patches "
            "although its weights are finite (its activations overflow): the training run probably diverged; "
            "audit the last good checkpoint or retrain")
    evaluation = classification_metrics(entry["probabilities"], entry["labels"])
    evaluation["limit"] = config.eval_limit
    return entry["indices"], entry["probabilities"], entry["labels"], evaluation
