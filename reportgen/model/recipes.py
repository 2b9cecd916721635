"""The two training recipes, one object each, and the registry that names them.

``full`` trains every layer (the notebook's code): Adam on augmented batches,
then the BatchNorm statistics are re-estimated before each validation.
``head`` freezes the backbone and trains only the 2-class fc (the notebook's
text) on backbone features computed once (:mod:`reportgen.model.features`).

The epochs loop, resume, checkpoints and best-epoch choice are the recipes'
common driver, :func:`reportgen.model.train.train_model`; a recipe supplies
only what differs, through :class:`TrainingRecipe`. A recipe object is made per
run (``get_recipe(settings.recipe)(settings)``) and holds that run's data.
"""

from __future__ import annotations

import abc
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from reportgen.errors import unknown_name_error
from reportgen.inference import autocast_context
from reportgen.model.augment import augment_batch
from reportgen.model.batchnorm import recalibrate_batchnorm
from reportgen.model.evaluate import classification_metrics, evaluate_model, evaluation_indices
from reportgen.model.features import cached_features
from reportgen.model.network import PCamClassifier

if TYPE_CHECKING:
    # Annotations only: reportgen.model.settings validates recipe names against RECIPES (defined below), so
    # importing it here at run time would close a cycle.
    from reportgen.model.settings import TrainSettings

logger = logging.getLogger(__name__)

TRAIN_SPLIT = "train"
VALID_SPLIT = "valid"


class EpochResult(NamedTuple):
    """What one training epoch reports to the driver.

    Attributes
    ----------
    loss : mean cross-entropy over the images trained on.
    images : number of images (or cached feature rows) trained on.
    capped : whether ``max_train_seconds`` stopped the epoch early.
    """

    loss: float
    images: int
    capped: bool


def epoch_seed(seed: int, epoch: int) -> int:
    """Independent seed per (run seed, epoch), so a resumed run draws what a straight run draws."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _to_float_images(images) -> torch.Tensor:
    from reportgen.data import as_float_tensor

    return as_float_tensor(images)


class TrainingRecipe(abc.ABC):
    """What a recipe adds to the common training driver, in the order it is called.

    1. :meth:`configure_model` on the freshly initialised model, before the
       optimizer is built over the parameters that still require gradients;
    2. :meth:`prepare` once, after a resume has restored the weights;
    3. per epoch, :meth:`run_epoch` (timed as the epoch's training) then
       :meth:`validate`;
    4. :meth:`describe` for the recipe's entries in the training record.

    Parameters
    ----------
    settings : the run's validated settings; ``settings.recipe == self.name``.
    """

    #: Registry key, the ``recipe`` of :class:`TrainSettings` and of checkpoints.
    name: ClassVar[str]
    #: Whether the best checkpoint is written each time validation improves
    #: (besides once at the end of training).
    checkpoint_each_improvement: ClassVar[bool]

    def __init__(self, settings: TrainSettings) -> None:
        self.settings = settings

    def configure_model(self, model: PCamClassifier) -> None:
        """Adjust the initial model in place (default: nothing; every layer trains)."""

    @abc.abstractmethod
    def prepare(
        self,
        model: PCamClassifier,
        train_split,
        valid_split,
        *,
        indices: np.ndarray | None,
        data_fingerprint,
        cache_dir: Path | None,
        progress: bool,
    ) -> None:
        """Get the run's training and validation data ready.

        Parameters
        ----------
        indices : (n,) sorted training patch indices (the ``train_fraction``
            subset), or ``None`` for the whole training split.
        data_fingerprint : the data set's fingerprint (feature cache key).
        cache_dir : root of caches the recipe keeps; ``None``: memory only.
        """

    @abc.abstractmethod
    def run_epoch(
        self,
        model: PCamClassifier,
        optimizer: torch.optim.Optimizer,
        *,
        epoch: int,
        device: torch.device,
        deadline: float | None,
        progress: bool,
    ) -> EpochResult:
        """Train one epoch (0-based ``epoch``); stop early once ``time.perf_counter() > deadline``."""

    @abc.abstractmethod
    def validate(self, model: PCamClassifier, *, device: torch.device) -> dict:
        """Validation metrics (:func:`classification_metrics` keys) of the model as it is now."""

    def describe(self) -> dict:
        """The recipe's own entries in the training record (default: none)."""
        return {}


_REGISTRY: dict[str, type[TrainingRecipe]] = {}


def register(recipe: type[TrainingRecipe]) -> type[TrainingRecipe]:
    """Class decorator adding a recipe to the registry under its ``name`` (names are unique)."""
    if recipe.name in _REGISTRY:
        raise ValueError(f"training recipe {recipe.name!r} is already registered")
    _REGISTRY[recipe.name] = recipe
    return recipe


def list_recipes() -> list[str]:
    """Registered recipe names, in registration order (:data:`RECIPES` once this module is imported)."""
    return list(_REGISTRY)


def get_recipe(name: str) -> type[TrainingRecipe]:
    """The recipe class registered as ``name``; unknown names raise a ConfigError listing valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise unknown_name_error("recipe", name, list(_REGISTRY)) from None


@register
class FullRecipe(TrainingRecipe):
    """Every layer trains on (optionally augmented) image batches, Adam on all parameters.

    After each epoch the BatchNorm running statistics are re-estimated on
    ``settings.bn_recalibration`` un-augmented training patches, then the model
    is evaluated on the validation split (``settings.eval_limit`` patches).
    """

    name = "full"
    checkpoint_each_improvement = True

    def prepare(self, model, train_split, valid_split, *, indices, data_fingerprint, cache_dir, progress):
        self.train_split, self.valid_split, self.indices = train_split, valid_split, indices

    def run_epoch(self, model, optimizer, *, epoch, device, deadline, progress):
        """One epoch over the training split, read in contiguous chunks in a seeded order."""
        settings, indices = self.settings, self.indices
        model.train()
        generator = torch.Generator().manual_seed(epoch_seed(settings.seed, epoch))
        total = len(self.train_split) if indices is None else len(indices)
        loss_sum, seen, capped = 0.0, 0, False
        started = time.perf_counter()
        batches = self.train_split.iter_batches(
            settings.batch_size, indices=indices, shuffle=True, seed=epoch_seed(settings.seed, epoch), progress=False
        )
        bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{settings.epochs}", unit="img", disable=not progress, leave=False)
        with bar:
            for batch in batches:
                images = _to_float_images(batch.images)
                labels = torch.as_tensor(np.asarray(batch.labels), dtype=torch.int64).to(device)
                if settings.augment:
                    images = augment_batch(images, generator=generator)
                images = images.to(device)
                if settings.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                optimizer.zero_grad(set_to_none=True)
                with autocast_context(device, settings.precision):
                    loss = nn.functional.cross_entropy(model(images).float(), labels)
                loss.backward()
                optimizer.step()
                loss_sum += float(loss.detach()) * len(labels)
                seen += len(labels)
                bar.update(len(labels))
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", img_s=f"{seen / (time.perf_counter() - started):.0f}")
                if deadline is not None and time.perf_counter() > deadline:
                    capped = True
                    break
        return EpochResult(loss_sum / max(seen, 1), seen, capped)

    def validate(self, model, *, device):
        """Re-estimate the BatchNorm statistics, then evaluate on the validation images.

        The re-estimated statistics stay in the model: they are the ones the
        best epoch's weights are saved with.
        """
        settings = self.settings
        recalibrate_batchnorm(
            model, self.train_split, indices=self.indices, n_patches=settings.bn_recalibration,
            batch_size=settings.eval_batch_size, device=device, channels_last=settings.channels_last,
        )
        return evaluate_model(model, self.valid_split, limit=settings.eval_limit, batch_size=settings.eval_batch_size)


@register
class HeadRecipe(TrainingRecipe):
    """The backbone is frozen; only the 2-class fc trains, on cached backbone features.

    Features are computed once, only for the patches the run uses (the
    ``train_fraction`` subset and the ``eval_limit`` validation patches), and
    validation runs every epoch on the cached validation features.
    """

    name = "head"
    # A head epoch takes milliseconds, less than writing the checkpoint:
    # the head recipe writes it once, at the end.
    checkpoint_each_improvement = False

    def configure_model(self, model):
        """Freeze every backbone parameter except the fc head's."""
        if self.settings.weights == "none":
            logger.warning("head recipe on a random backbone: only the 2-class head will learn")
        for name, parameter in model.backbone.named_parameters():
            parameter.requires_grad_(name.startswith("fc."))

    def prepare(self, model, train_split, valid_split, *, indices, data_fingerprint, cache_dir, progress):
        """Compute (or load from ``cache_dir``) the (n, 512) features of the patches used."""
        settings = self.settings
        eval_indices = evaluation_indices(len(valid_split), settings.eval_limit)
        # Only the patches this run trains and validates on: the stratified
        # subset of --train-fraction and the evenly spaced --eval-limit ones.
        common = dict(
            data_fingerprint=str(data_fingerprint),
            cache_dir=cache_dir,
            precision=settings.precision,
            channels_last=settings.channels_last,
            progress=progress,
        )
        self.feature_cache_hit: dict[str, bool] = {}
        self.train_features, self.train_labels, self.feature_cache_hit["train"] = cached_features(
            model, train_split, split_name=TRAIN_SPLIT, indices=indices, **common
        )
        self.valid_features, self.valid_labels, self.feature_cache_hit["valid"] = cached_features(
            model, valid_split, split_name=VALID_SPLIT, indices=eval_indices, **common
        )

    def run_epoch(self, model, optimizer, *, epoch, device, deadline, progress):
        """One epoch of the fc head over the cached training features, in a seeded order."""
        settings, features, labels = self.settings, self.train_features, self.train_labels
        head = model.backbone.fc
        head.train()
        generator = torch.Generator().manual_seed(epoch_seed(settings.seed, epoch))
        order = torch.randperm(len(features), generator=generator)
        loss_sum, seen, capped = 0.0, 0, False
        for start in range(0, len(order), settings.batch_size):
            chosen = order[start : start + settings.batch_size]
            batch_features, batch_labels = features[chosen].to(device), labels[chosen].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(head(batch_features), batch_labels)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(chosen)
            seen += len(chosen)
            if deadline is not None and time.perf_counter() > deadline:
                capped = True
                break
        return EpochResult(loss_sum / max(seen, 1), seen, capped)

    def validate(self, model, *, device):
        """Metrics of the head's logits on the cached validation features."""
        # The frozen backbone's features are fixed, so the head's logits on
        # them are the full model's logits: no second pass over the images.
        with torch.inference_mode():
            logits = model.backbone.fc(self.valid_features.to(device)).float()
        evaluation = classification_metrics(torch.softmax(logits, 1).cpu().numpy(), self.valid_labels.numpy())
        evaluation["limit"] = self.settings.eval_limit
        return evaluation

    def describe(self):
        """``feature_cache_hit``: per split, whether its features came from the cache."""
        return {"feature_cache_hit": self.feature_cache_hit}


#: The registered recipes' names (``--recipe``), in registration order.
RECIPES = tuple(_REGISTRY)
