"""Reading and writing classifier checkpoints, safely.

The layouts recognised (reportgen's own, the notebook's, PyTorch Lightning's
and plain state dicts under any one prefix) are in
:mod:`reportgen.model.checkpoint_layouts`; the architectures, by name, in
:mod:`reportgen.model.architectures`.  Every ``.pt``/``.pth``/``.ckpt`` file is read with
``torch.load(..., weights_only=True)``, and a ``.safetensors`` file with safetensors (tensors
only): a checkpoint from elsewhere cannot run code on load (docs/metrics.md#checkpoints-load-without-running-code).  A checkpoint whose weights hold NaN or
infinite values (a diverged training run) is refused before any work.

A checkpoint's bytes depend only on its weights and settings: the wall-clock
times of its training (:data:`reportgen.model.timings.TIMING_KEYS`), which differ between two
identical runs, are written beside it in ``<file>.timings.json``
(:func:`reportgen.model.timings.timings_path`) and joined back on load, so the same training gives the
same SHA-256 and a report can say "same model".
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from reportgen import __version__
from reportgen.errors import CheckpointError, ConfigError
from reportgen.model.architectures import DEFAULT_ARCH, check_input_size, check_state_dict
from reportgen.model.checkpoint_layouts import FORMAT, interpret
from reportgen.model.network import (
    CLASS_NAMES,
    IDENTITY_PREPROCESSING,
    PCamClassifier,
    Preprocessing,
)
from reportgen.model.timings import split_timings, timings_path, with_timings

logger = logging.getLogger(__name__)

_PARALLEL_PREFIX = "module."



@dataclass
class LoadedModel:
    """A classifier ready for inference and what is known about where it came from.

    Attributes
    ----------
    model : the classifier, in eval mode, taking (N, 3, S, S) float in [0, 1], S its preprocessing's
        ``input_size`` (96 until :func:`fit_to_patches` gives it patches of another side).
    info : plain-typed provenance: ``format`` (one of :data:`FORMATS`), ``sha256``
        of the file, ``path``, ``recipe``, ``weights``, ``preprocessing`` (dict),
        ``preprocessing_source`` ("checkpoint", "notebook", "assumed" or
        "argument"), ``training``, ``evaluation``, ``epoch`` and, for
        reportgen checkpoints, ``history`` and ``data_fingerprint``.
    """

    model: PCamClassifier
    info: dict


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_dict_sha256(state_dict: dict[str, torch.Tensor], *, exclude_prefix: str | None = None) -> str:
    """Hex SHA-256 of a state dict's names, dtypes, shapes and values.

    Parameters
    ----------
    state_dict : name -> tensor.
    exclude_prefix : names starting with this are left out (e.g. ``"fc."`` to
        hash a backbone without its head); default ``None`` keeps all.
    """
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        if exclude_prefix is not None and name.startswith(exclude_prefix):
            continue
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes())
    return digest.hexdigest()


def safe_torch_load(path: Path, *, what: str = "checkpoint") -> object:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one-line errors.

    Raises
    ------
    CheckpointError
        When the file is missing, truncated or corrupt, or would need arbitrary
        code to unpickle.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {what} file; check the path")
    try:
        # torch warns about files written with another pickle protocol; that says nothing the
        # user can act on, so it goes to the debug log instead of the terminal.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw = torch.load(path, map_location="cpu", weights_only=True)
        for warning in caught:
            logger.debug("%s: torch.load: %s", path, str(warning.message).splitlines()[0])
        return raw
    except pickle.UnpicklingError as error:
        # weights_only reports a forbidden global (a class, a function) as an UnpicklingError.
        if "weights only" in str(error).lower() or "unsupported global" in str(error).lower():
            raise CheckpointError(
                f"{path}: refusing to unpickle code: the {what} holds Python objects other than "
                "tensors and plain types; re-save only its state_dict (torch.save(model.state_dict(), "
                "path)) where you trust the file"
            ) from None
        raise _corrupt(path, what, error) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as error:
        raise _corrupt(path, what, error) from None


def _corrupt(path: Path, what: str, error: Exception) -> CheckpointError:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return CheckpointError(
        f"{path}: the {what} is truncated or corrupt ({reason[:120]}); copy or save it again"
    )


def strip_parallel_prefix(state_dict: dict) -> dict:
    """Drop the ``module.`` prefix that ``nn.DataParallel`` adds to every key."""
    if state_dict and all(str(key).startswith(_PARALLEL_PREFIX) for key in state_dict):
        return {key[len(_PARALLEL_PREFIX) :]: value for key, value in state_dict.items()}
    return dict(state_dict)


def check_resnet18_state_dict(state_dict: dict, *, path: Path | str, allow_missing_fc: bool = False) -> dict:
    """Validate a torchvision resnet18 (2-class fc) state dict, optionally under ``module.``; return it cleaned.

    :func:`reportgen.model.architectures.check_state_dict` for the architecture training builds;
    ``allow_missing_fc`` accepts a backbone without ``fc.*`` (initial weights).
    """
    return check_state_dict(strip_parallel_prefix(state_dict), arch=DEFAULT_ARCH, path=path,
                            allow_missing_head=allow_missing_fc)


def read_checkpoint_file(path: Path) -> object:
    """The object a checkpoint file holds: a ``.safetensors`` file's tensors, or :func:`safe_torch_load`'s."""
    if path.suffix.lower() != ".safetensors":
        return safe_torch_load(path)
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:
        raise ConfigError(f"{path}: reading .safetensors needs safetensors; pip install 'reportgen[safetensors]'"
                          ) from None
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file; check the path")
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise _corrupt(path, "checkpoint", error) from None


def check_finite(state_dict: dict, *, path: Path | str) -> None:
    """Refuse weights that hold NaN or infinite values: the training run that wrote them diverged.

    Raises
    ------
    CheckpointError
        Naming the first non-finite tensors and how many there are.
    """
    bad = [name for name, tensor in state_dict.items()
           if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise CheckpointError(
            f"{path}: {len(bad)} weight tensor{'s hold' if len(bad) > 1 else ' holds'} NaN or infinite values "
            f"({', '.join(bad[:3])}{more}); the training run that wrote it probably diverged (learning rate "
            "too high, or fp16 overflow): audit the last good checkpoint or retrain")


def load_checkpoint(
    path: Path | str,
    *,
    preprocessing: Preprocessing | None = None,
    device: str | torch.device = "cpu",
    arch: str | None = None,
    input_size: int | None = None,
    check_input: bool = True,
) -> LoadedModel:
    """Load any supported checkpoint as a :class:`PCamClassifier` in eval mode.

    Parameters
    ----------
    path : a reportgen, notebook or plain state-dict checkpoint (``.pt``, ``.pth``,
        ``.ckpt`` or ``.safetensors``).
    preprocessing : overrides the preprocessing the file records or implies;
        default ``None`` keeps it (identity for notebook files and, by
        assumption, for plain state dicts).
    device : where the model is placed (default ``"cpu"``).
    arch : the architecture (``--arch``): a torchvision builder name or ``timm:<name>``;
        default ``None``: the one a reportgen checkpoint records, else resnet18.
    input_size : the side the network takes (``--input-size``): the model resizes each patch to it inside its
        module (:attr:`Preprocessing.resize_to`); default ``None`` keeps what the file records (else no resize).
    check_input : refuse a network that cannot classify a patch of the recorded side (default True); False
        leaves the check to :func:`fit_to_patches`, once the patches' side is known.

    Returns
    -------
    LoadedModel

    Raises
    ------
    CheckpointError
        Missing, truncated or corrupt file; a file that would run code when
        unpickled; another architecture; a head with other than 2 classes; an
        unrecognised dict.
    ConfigError
        An unknown architecture, one that cannot classify a 96x96 patch, or an
        ``arch`` that contradicts the one a reportgen checkpoint records.
    """
    path = Path(path)
    raw = read_checkpoint_file(path)
    state_dict, info, recorded = interpret(raw, path, arch)
    arch = info["architecture"]
    state_dict = check_state_dict(strip_parallel_prefix(state_dict), arch=arch, path=path)
    check_finite(state_dict, path=path)
    if isinstance(recorded, dict):
        stored = Preprocessing.from_dict(recorded)
    elif recorded == "identity":
        stored = IDENTITY_PREPROCESSING
    elif recorded is not None:
        stored = Preprocessing(mean=recorded[0], std=recorded[1])
    else:
        stored = None
    if preprocessing is not None:
        source = "argument"
        if stored is not None and stored != preprocessing:
            logger.warning("%s: overriding the recorded preprocessing %s with %s", path, stored, preprocessing)
    elif stored is not None:
        preprocessing = stored
        source = "notebook" if info["format"] == "notebook" else "checkpoint"
    else:
        preprocessing = IDENTITY_PREPROCESSING
        source = "assumed"
        logger.warning(
            "%s: plain state dict with unknown normalisation; assuming the notebook's [0, 1] input "
            "(identity). Pass --preprocessing imagenet if it was trained with ImageNet statistics",
            path,
        )
    preprocessing = preprocessing.taking(input_size)
    model = PCamClassifier(preprocessing, arch)
    model.backbone.load_state_dict(state_dict)
    model.eval().to(device)
    if check_input and (arch != DEFAULT_ARCH or preprocessing.resize_to is not None):
        check_input_size(model, arch=arch, size=preprocessing.input_size, resize_to=preprocessing.resize_to)
    sha256 = file_sha256(path)
    if info["format"] == FORMAT:
        info["training"], info["history"] = with_timings(path, sha256, info.get("training"), info.get("history"))
    info.update(
        path=str(path),
        sha256=sha256,
        preprocessing=preprocessing.to_dict(),
        preprocessing_source=source,
        class_names=list(CLASS_NAMES),
    )
    return LoadedModel(model=model, info=info)


def fit_to_patches(loaded: LoadedModel, patch_size: int, *, input_size: int | None = None) -> LoadedModel:
    """``loaded`` given the data's ``patch_size`` x ``patch_size`` patches, at their own size.

    The backbone takes ``input_size`` (``--input-size``), else the side a reportgen or notebook checkpoint records
    it was trained at, else the patches' own; the model resizes the patches to it inside its module, so every map
    keeps the patch's pixels. The model and ``info["preprocessing"]`` are updated in place; a network that cannot
    take the result is refused in one line (:func:`check_input_size`), for a checkpoint loaded with
    ``check_input=False`` also when the side is the one it records.
    """
    current = loaded.model.preprocessing
    recorded = loaded.info.get("preprocessing_source") in ("checkpoint", "notebook")
    fitted = current.for_patches(patch_size, input_size or (current.network_side if recorded else None))
    loaded.model.preprocessing = fitted
    loaded.model.normalize.resize_to = fitted.resize_to
    loaded.info["preprocessing"] = fitted.to_dict()
    if loaded.info["architecture"] != DEFAULT_ARCH or fitted.resize_to is not None:
        check_input_size(loaded.model, arch=loaded.info["architecture"], size=patch_size, resize_to=fitted.resize_to)
    return loaded


def save_checkpoint(
    path: Path | str,
    model: PCamClassifier,
    *,
    recipe: str,
    weights: str,
    training: dict,
    history: list[dict],
    evaluation: dict | None,
    data_fingerprint: str | None,
    epoch: int,
    optimizer_state: dict | None = None,
) -> str:
    """Write a ``reportgen-v1`` checkpoint atomically; return its SHA-256.

    The file holds only tensors and plain Python types, so
    ``torch.load(path, weights_only=True)`` reads it. ``state_dict`` is the
    plain state dict of ``model.backbone`` (``architecture`` names it), so other tools can
    load it directly.  The :data:`~reportgen.model.timings.TIMING_KEYS` of ``training`` and
    ``history`` go to ``<path>.timings.json`` instead (:func:`reportgen.model.timings.timings_path`),
    so two trainings that give the same weights write the same bytes.

    Parameters
    ----------
    path : destination; its folder is created; written to a temporary file
        in the same folder first, then renamed, so a reader never sees half a file.
    model : the classifier to save.
    recipe : "full" or "head".
    weights : the initial weights: "none", "imagenet" or a file's description.
    training : training settings as plain types.
    history : one dict of plain numbers per epoch.
    evaluation : validation metrics (see :func:`reportgen.model.evaluate.classification_metrics`).
    data_fingerprint : fingerprint of the data set trained on.
    epoch : number of completed epochs the weights come from (1-based).
    optimizer_state : ``optimizer.state_dict()`` for resuming; default ``None``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    training, history, timings = split_timings(training, history)
    payload = {
        "format": FORMAT,
        "architecture": model.arch,
        "class_names": list(CLASS_NAMES),
        "preprocessing": model.preprocessing.to_dict(),
        "state_dict": {
            name: tensor.detach().cpu().contiguous().clone()
            for name, tensor in model.backbone.state_dict().items()
        },
        "recipe": recipe,
        "weights": weights,
        "training": training,
        "history": history,
        "evaluation": evaluation,
        "data_fingerprint": data_fingerprint,
        "epoch": int(epoch),
        "optimizer_state_dict": optimizer_state,
        "reportgen_version": __version__,
        "torch_version": str(torch.__version__),
    }
    def write(temporary: str) -> None:
        # Through an open file: given a name, torch.save names the archive's folder after it, and the
        # temporary name is random.
        with open(temporary, "wb") as handle:
            torch.save(payload, handle)

    _write_atomically(path, write)
    sha256 = file_sha256(path)
    sidecar = timings_path(path)
    if timings:
        text = json.dumps({"checkpoint_sha256": sha256, **timings}, indent=1, sort_keys=True)
        _write_atomically(sidecar, lambda temporary: Path(temporary).write_text(text + "\n"))
    else:
        sidecar.unlink(missing_ok=True)  # a previous checkpoint's, at the same path
    return sha256


def _write_atomically(path: Path, write) -> None:
    """``write(temporary)`` in ``path``'s folder, then rename it to ``path``: a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
