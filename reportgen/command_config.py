"""The build's configuration file for the commands that use some of its keys: ``reportgen train`` and
``reportgen data inspect``.

Each command takes ``--config FILE``, the same TOML file ``reportgen build`` reads; the file is read and checked
whole by :mod:`reportgen.config` (so an unknown key or a bad value is the build's one-line error), and the command
takes the keys it has a use for. Precedence, as for the build: defaults < the file < the flags given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The keys :func:`reportgen.model.settings.demo_train_settings` takes, by the configuration's names.
TRAIN_SETTINGS = ("recipe", "weights", "arch", "input_size", "epochs", "train_fraction", "precision", "seed",
                  "eval_limit")
#: The keys ``reportgen train`` uses, with its defaults (the build's).
TRAIN_DEFAULTS = {"data_dir": None, "class_folders": {}, "recipe": "full", "weights": "none", "arch": None,
                  "input_size": None, "epochs": None, "train_fraction": None, "precision": "fp32", "seed": 0,
                  "device": "auto", "eval_limit": None}
#: The keys ``reportgen data inspect`` uses, with its defaults (``label_region`` None: not stated).
INSPECT_DEFAULTS = {"data_dir": None, "class_folders": {}, "split": "valid", "label_region": None}


def stated_in_file(path: str | Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """The values the configuration file ``path`` states for ``keys``, resolved as ``reportgen build --config``
    resolves them; a key the file leaves out is left out, so the command's own default stays."""
    from reportgen.config import load_config_file, resolve_config  # imports the explainers: only for a file

    file_values = load_config_file(path)
    config = resolve_config(file_values=file_values)
    return {key: getattr(config, key) for key in keys if key in file_values}


def command_options(defaults: dict[str, Any], *, config_file: str | Path | None, flags: dict[str, Any]) -> dict:
    """``defaults`` < the file ``config_file`` states (none when None) < ``flags``, for the keys of ``defaults``.

    ``flags`` are the parsed command line; a flag not given is None there (the commands' flags default to None).
    """
    values = dict(defaults)
    if config_file:
        values.update(stated_in_file(config_file, tuple(defaults)))
    values.update({key: flags[key] for key in defaults if flags.get(key) is not None})
    return values
