"""Training the classifier: the common driver of both recipes, resumable and cached.

Recipe (the notebook's, docs/metrics.md#the-notebooks-two-recipes): Adam, cross-entropy, batch 64, lr 1e-3,
augmentation (:mod:`reportgen.model.augment`), the weights of the best
validation accuracy are kept, early stopping after ``patience`` epochs without
improvement. ResNet: He et al., "Deep Residual Learning for Image
Recognition", CVPR 2016; Adam: Kingma & Ba, ICLR 2015. What the ``full`` and
``head`` recipes do differently lives in :mod:`reportgen.model.recipes`; this
module runs the epochs, resumes, writes checkpoints and keeps the best epoch.

The data set is any object with ``fingerprint`` and ``split(name)``; a split
has ``__len__``, ``labels`` and ``iter_batches(batch_size, *, indices,
shuffle, seed, progress)`` yielding batches with ``images`` (n, 96, 96, 3)
uint8 and ``labels`` (n,) int64. Batches are read in contiguous chunks.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from reportgen.cache import entry_lock
from reportgen.errors import CheckpointError, ConfigError
from reportgen.model.architectures import check_state_dict
from reportgen.model.checkpoint import (
    FORMAT,
    LoadedModel,
    file_sha256,
    load_checkpoint,
    safe_torch_load,
    save_checkpoint,
    strip_parallel_prefix,
)
from reportgen.model.network import PCamClassifier
from reportgen.model.recipes import TRAIN_SPLIT, VALID_SPLIT, TrainingRecipe, get_recipe
from reportgen.model.settings import TrainSettings
from reportgen.model.timings import move_checkpoint, with_timings
from reportgen.model.weights import initial_backbone_state

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _deterministic_algorithms():
    """Deterministic kernels for the duration of training; the caller's setting is restored."""
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


def _train_indices(split, settings: TrainSettings) -> np.ndarray | None:
    if settings.train_fraction >= 1.0:
        return None
    from reportgen.data.sampling import stratified_subset

    return np.sort(np.asarray(stratified_subset(split.labels, settings.train_fraction, seed=settings.seed)))


def _initial_model(settings: TrainSettings, recipe: TrainingRecipe, patch_size: int) -> PCamClassifier:
    model = PCamClassifier(settings.resolved_preprocessing(patch_size), settings.arch)
    state = initial_backbone_state(settings.weights)
    if state is not None:
        missing, _ = model.backbone.load_state_dict(state, strict=False)
        if any(not name.startswith("fc.") for name in missing):
            raise CheckpointError(f"--weights {settings.weights}: missing backbone weights {missing[:3]}")
    recipe.configure_model(model)
    return model


class _Run:
    """Best-so-far bookkeeping shared by both recipes."""

    def __init__(self) -> None:
        self.history: list[dict] = []
        self.best_accuracy = -math.inf
        self.best_epoch = 0
        self.best_state: dict | None = None
        self.best_optimizer: dict | None = None
        self.best_evaluation: dict | None = None
        self.start_epoch = 0


def _load_resume(path: Path, model: PCamClassifier, optimizer, settings: TrainSettings, run: _Run) -> None:
    """Restore weights, optimizer, epoch and history from a reportgen or notebook checkpoint."""
    raw = safe_torch_load(path)
    if isinstance(raw, dict) and raw.get("format") == FORMAT:
        if raw.get("recipe") != settings.recipe:
            raise ConfigError(
                f"--resume {path}: it was trained with recipe {raw.get('recipe')!r}, not "
                f"{settings.recipe!r}; resume with the same recipe"
            )
        state, epoch = raw["state_dict"], int(raw["epoch"])
        _, history = with_timings(path, file_sha256(path), None, raw.get("history", []))
        run.history = [entry for entry in history if entry["epoch"] <= epoch]
        run.best_evaluation = raw.get("evaluation")
        accuracy = (run.best_evaluation or {}).get("accuracy")
    elif isinstance(raw, dict) and "model_state_dict" in raw:
        # The notebook stores the 0-based index of the saved epoch.
        state, epoch = raw["model_state_dict"], int(raw.get("epoch", -1)) + 1
        accuracy = raw.get("val_acc")
    else:
        raise CheckpointError(f"--resume {path}: not a reportgen or notebook checkpoint; cannot resume from it")
    model.backbone.load_state_dict(check_state_dict(strip_parallel_prefix(state), arch=settings.arch, path=path))
    if raw.get("optimizer_state_dict") is not None:
        try:
            optimizer.load_state_dict(raw["optimizer_state_dict"])
        except (ValueError, KeyError) as error:
            raise CheckpointError(
                f"--resume {path}: its optimizer state does not fit recipe {settings.recipe!r} ({error})"
            ) from None
    run.start_epoch = run.best_epoch = epoch
    run.best_accuracy = -math.inf if accuracy is None else float(accuracy)
    run.best_state = copy.deepcopy(model.state_dict())
    run.best_optimizer = copy.deepcopy(optimizer.state_dict())
    logger.info("resuming from %s after epoch %d", path, epoch)


def train_model(
    dataset,
    settings: TrainSettings,
    *,
    device: str | torch.device = "cpu",
    progress: bool = True,
    resume: Path | None = None,
    checkpoint_path: Path | None = None,
    cache_dir: Path | None = None,
) -> tuple[PCamClassifier, dict]:
    """Train a classifier on ``dataset`` and return the best-validation model.

    Parameters
    ----------
    dataset : PCam data set (``fingerprint``, ``split("train")``, ``split("valid")``).
    settings : recipe, weights and hyper-parameters.
    device : training device (default ``"cpu"``).
    progress : show progress bars with loss and images/s (default True).
    resume : a reportgen or notebook checkpoint to continue from (its weights,
        optimizer state, epoch and history); default ``None`` starts fresh.
    checkpoint_path : where the best model is written (``reportgen-v1``) each
        time validation accuracy improves (full recipe) and once at the end;
        default ``None``.
    cache_dir : root of the head recipe's feature cache; default ``None``
        keeps features in memory.

    The head recipe computes backbone features once, only for the patches it
    uses (the ``train_fraction`` subset and the ``eval_limit`` validation
    patches), and validates every epoch on the cached validation features.

    Returns
    -------
    model : :class:`PCamClassifier` in eval mode with the best epoch's weights.
    info : plain-typed record: ``recipe``, ``weights``, ``settings``,
        ``preprocessing``, ``history`` (per epoch: ``epoch``, ``loss``,
        ``val_accuracy``, ``seconds``, ``images``, ``images_per_second``),
        ``evaluation`` (validation metrics of the best epoch), ``best_epoch``,
        ``epochs_run``, ``stopped`` ("completed", "early_stopping",
        "time_cap"), ``train_size``, ``seconds``, ``images_per_second``,
        ``data_fingerprint``, ``device``, ``torch_threads``.
    """
    device = torch.device(device)
    fingerprint = getattr(dataset, "fingerprint", None)
    train_split, valid_split = dataset.split(TRAIN_SPLIT), dataset.split(VALID_SPLIT)
    indices = _train_indices(train_split, settings)
    train_size = len(train_split) if indices is None else len(indices)
    started = time.perf_counter()
    deadline = None if settings.max_train_seconds is None else started + settings.max_train_seconds
    run = _Run()
    recipe = get_recipe(settings.recipe)(settings)

    with _deterministic_algorithms(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        model = _initial_model(settings, recipe, train_split.patch_size).to(device)
        if settings.channels_last:
            model = model.to(memory_format=torch.channels_last)
        trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
        optimizer = torch.optim.Adam(trainable, lr=settings.lr)
        if resume is not None:
            _load_resume(Path(resume), model, optimizer, settings, run)
        recipe.prepare(
            model, train_split, valid_split, indices=indices, data_fingerprint=fingerprint,
            cache_dir=cache_dir, progress=progress,
        )
        stopped = _run_epochs(recipe, model, optimizer, run, device=device, deadline=deadline,
                              progress=progress, checkpoint_path=checkpoint_path, fingerprint=fingerprint)

    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    model = model.to(memory_format=torch.contiguous_format).eval()
    seconds = time.perf_counter() - started
    images_total = sum(entry["images"] for entry in run.history if entry["epoch"] > run.start_epoch)
    info = {
        "recipe": settings.recipe,
        "weights": settings.weights,
        "settings": settings.to_dict(),
        "preprocessing": model.preprocessing.to_dict(),
        "history": run.history,
        "evaluation": run.best_evaluation,
        "best_epoch": run.best_epoch,
        "epochs_run": len(run.history),
        "stopped": stopped,
        "train_size": train_size,
        "seconds": seconds,
        "images_per_second": images_total / seconds if seconds > 0 else None,
        "data_fingerprint": fingerprint,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "resumed_from": None if resume is None else str(resume),
    }
    info.update(recipe.describe())
    if checkpoint_path is not None:
        info["checkpoint_sha256"] = _save(checkpoint_path, model, settings, run, fingerprint, extra=info)
    return model, info


def _run_epochs(recipe: TrainingRecipe, model, optimizer, run: _Run, *, device, deadline, progress,
                checkpoint_path, fingerprint) -> str:
    """Train and validate epoch by epoch, keeping the best; returns why training stopped.

    Returns
    -------
    "completed", "early_stopping" (``patience`` epochs without a better
    validation accuracy) or "time_cap" (``max_train_seconds`` reached).
    """
    settings = recipe.settings
    for epoch in range(run.start_epoch, settings.epochs):
        epoch_started = time.perf_counter()
        loss, images, capped = recipe.run_epoch(
            model, optimizer, epoch=epoch, device=device, deadline=deadline, progress=progress
        )
        train_seconds = time.perf_counter() - epoch_started
        evaluation = recipe.validate(model, device=device)
        entry = {
            "epoch": epoch + 1,
            "loss": loss,
            "val_accuracy": evaluation["accuracy"],
            "seconds": time.perf_counter() - epoch_started,
            "images": images,
            "images_per_second": images / train_seconds if train_seconds > 0 else None,
        }
        run.history.append(entry)
        logger.info(
            "epoch %d/%d: loss %.4f, val accuracy %.4f, %.0f images/s",
            epoch + 1, settings.epochs, loss, evaluation["accuracy"] or 0.0,
            entry["images_per_second"] or 0.0,
        )
        if evaluation["accuracy"] is not None and evaluation["accuracy"] > run.best_accuracy:
            run.best_accuracy, run.best_epoch = evaluation["accuracy"], epoch + 1
            run.best_state = copy.deepcopy(model.state_dict())
            run.best_optimizer = copy.deepcopy(optimizer.state_dict())
            run.best_evaluation = evaluation
            if checkpoint_path is not None and recipe.checkpoint_each_improvement:
                _save(checkpoint_path, model, settings, run, fingerprint, extra={})
        if capped:
            logger.warning("training stopped by max_train_seconds=%s", settings.max_train_seconds)
            return "time_cap"
        if epoch + 1 - run.best_epoch >= settings.patience:
            return "early_stopping"
    return "completed"


def _save(path, model, settings: TrainSettings, run: _Run, fingerprint, *, extra: dict) -> str:
    """Write the best weights with the history so far (the model is swapped back afterwards)."""
    current = copy.deepcopy(model.state_dict()) if run.best_state is not None else None
    if current is not None:
        model.load_state_dict(run.best_state)
    training = settings.to_dict()
    training.update({key: extra[key] for key in ("stopped", "epochs_run", "train_size", "seconds", "device") if key in extra})
    try:
        return save_checkpoint(
            path,
            model,
            recipe=settings.recipe,
            weights=settings.weights,
            training=training,
            history=run.history,
            evaluation=run.best_evaluation,
            data_fingerprint=fingerprint,
            epoch=run.best_epoch,
            optimizer_state=run.best_optimizer,
        )
    finally:
        if current is not None:
            model.load_state_dict(current)


def checkpoint_key(dataset, settings: TrainSettings) -> str:
    """Cache key of a trained model: data fingerprint + settings."""
    text = f"{getattr(dataset, 'fingerprint', None)}|{settings.key()}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def train_or_load(
    dataset,
    settings: TrainSettings,
    *,
    cache_dir: Path,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> LoadedModel:
    """The model trained with ``settings`` on ``dataset``, trained only if not cached.

    The checkpoint lives at ``cache_dir/checkpoints/<key>.pt`` (key: data
    fingerprint + :meth:`TrainSettings.key`). Training writes to
    ``<key>.partial.pt`` and renames it when done, so an interrupted build never
    leaves a checkpoint that looks finished; the next build resumes from it.
    A run that needs the model while another run trains it waits for that run
    (:func:`reportgen.cache.entry_lock`) and loads its checkpoint: the model is
    trained once, and every report names the checkpoint in the cache.

    Returns
    -------
    LoadedModel whose ``info`` also has ``cache_hit`` (bool) and ``key``.
    """
    folder = Path(cache_dir) / "checkpoints"
    key = checkpoint_key(dataset, settings)
    final = folder / f"{key}.pt"
    loaded = _cached_model(final, key, device=device)
    if loaded is not None:
        return loaded
    with entry_lock(final, what="training the model"):
        loaded = _cached_model(final, key, device=device)  # trained by another run while this one waited
        if loaded is not None:
            return loaded
        partial = folder / f"{key}.partial.pt"
        resume = partial if partial.is_file() else None
        try:
            train_model(dataset, settings, device=device, progress=progress, resume=resume,
                        checkpoint_path=partial, cache_dir=cache_dir)
        except CheckpointError as error:
            if resume is None:
                raise
            logger.warning("starting over: cannot resume from %s (%s)", partial, error)
            train_model(dataset, settings, device=device, progress=progress, checkpoint_path=partial,
                        cache_dir=cache_dir)
        move_checkpoint(partial, final)
    loaded = load_checkpoint(final, device=device)
    loaded.info.update(cache_hit=False, key=key)
    return loaded


def _cached_model(path: Path, key: str, *, device) -> LoadedModel | None:
    """The cached checkpoint at ``path``, or ``None`` when there is none or it is unusable."""
    if not path.is_file():
        return None
    try:
        loaded = load_checkpoint(path, device=device)
    except CheckpointError as error:
        logger.warning("retraining: cached checkpoint unusable (%s)", error)
        return None
    loaded.info.update(cache_hit=True, key=key)
    logger.info("reusing trained model %s", path)
    return loaded
