"""The resolved configuration of a ``reportgen build``.

Precedence (as timm's ``train.py``): defaults < ``--config FILE`` (TOML) <
command-line flags.  The resolved configuration is validated in one place,
written beside the report and shown in it, so it is the run's provenance.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from reportgen.errors import ConfigError

DEFAULT_METHODS = ("integrated_gradients", "grad_cam", "lime")
TARGETS = ("predicted", "label")
SUBSTRATES = ("black", "white", "mean", "blur")
PRECISIONS = ("fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda", "mps")
RECIPES = ("full", "head")
SPLITS = ("valid", "test")
IG_BASELINES = ("black", "white", "blur")


@dataclass(frozen=True)
class BuildConfig:
    """Every option of ``reportgen build``; field names are the TOML keys.

    Paths are kept as given (relative to the working directory) so the
    configuration written beside the report reads as the user wrote it.
    """

    images: int = 30
    data_dir: str | None = None
    split: str = "valid"
    checkpoint: str | None = None
    preprocessing: str | None = None
    out: str = "report"
    seed: int = 0
    title: str = "Explainability audit report"
    model_name: str = "ResNet-18 (PatchCamelyon)"
    methods: tuple[str, ...] = DEFAULT_METHODS
    target: str = "predicted"
    steps: int = 100
    deletion_substrate: str = "mean"
    insertion_substrate: str = "blur"
    compare_substrates: bool = False
    ig_steps: int = 50
    ig_baseline: str = "black"
    grad_cam_layer: str = "backbone.layer4.1"
    lime_samples: int = 1000
    sanity_images: int = 5
    precision: str = "fp32"
    batch_size: int = 256
    device: str = "auto"
    recipe: str = "full"
    weights: str = "none"
    epochs: int | None = None
    train_fraction: float | None = None
    eval_limit: int | None = None
    cache_dir: str | None = None
    no_cache: bool = False
    pdf: bool = True
    compare: str | None = None
    fail_if: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain, TOML/JSON-friendly values (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }


_FIELDS = {f.name: f for f in fields(BuildConfig)}
_CHOICES = {
    "split": SPLITS,
    "target": TARGETS,
    "deletion_substrate": SUBSTRATES,
    "insertion_substrate": SUBSTRATES,
    "ig_baseline": IG_BASELINES,
    "precision": PRECISIONS,
    "device": DEVICES,
    "recipe": RECIPES,
}
_POSITIVE_INTS = ("images", "steps", "ig_steps", "lime_samples", "batch_size", "epochs", "eval_limit")


def _coerce(key: str, value: Any) -> Any:
    """Convert a TOML or flag value to the field's type, or raise a ConfigError naming the key."""
    default = _FIELDS[key].default
    annotation = str(_FIELDS[key].type)
    if value is None:
        if "None" in annotation:
            return None
        raise ConfigError(f"option {key!r} needs a value")
    if annotation.startswith("tuple"):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"option {key!r} must be a list of strings, got {value!r}")
        # A comma-separated flag value ("ig,lime") means the same as a list.
        return tuple(part.strip() for item in items for part in item.split(",") if part.strip())
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"option {key!r} must be true or false, got {value!r}")
        return value
    if annotation.startswith("int") or isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"option {key!r} must be a whole number, got {value!r}")
        return value
    if annotation.startswith("float") or isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"option {key!r} must be a number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"option {key!r} must be a string, got {value!r}")
    return value


def _validate(config: BuildConfig) -> BuildConfig:
    """Check choices and ranges; raise one ConfigError naming the key and the valid values."""
    for key, choices in _CHOICES.items():
        value = getattr(config, key)
        if value not in choices:
            raise ConfigError(f"invalid {key} {value!r}; choose from: {', '.join(choices)}")
    for key in _POSITIVE_INTS:
        value = getattr(config, key)
        if value is not None and value < 1:
            raise ConfigError(f"option {key!r} must be at least 1, got {value}")
    if config.sanity_images < 0:
        raise ConfigError(f"option 'sanity_images' must be 0 or more, got {config.sanity_images}")
    if config.train_fraction is not None and not 0.0 < config.train_fraction <= 1.0:
        raise ConfigError(f"option 'train_fraction' must be in (0, 1], got {config.train_fraction}")
    if not config.methods:
        raise ConfigError("option 'methods' is empty; name at least one method")
    if len(set(config.methods)) != len(config.methods):
        raise ConfigError(f"option 'methods' names a method twice: {', '.join(config.methods)}")
    if config.images < 2:
        raise ConfigError(f"option 'images' must be at least 2 (intervals need two patches), got {config.images}")
    return config


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML configuration file into ``{key: value}``.

    Keys may sit at the top level or under a ``[build]`` table.  Unknown keys
    are errors that list the valid ones.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; check the --config path") from None
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read ({error.strerror}); check its permissions") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML ({error}); fix the syntax") from None
    values = dict(raw.pop("build", {})) if isinstance(raw.get("build"), dict) else {}
    values.update(raw)
    for key in values:
        if key not in _FIELDS:
            raise ConfigError(
                f"unknown key {key!r} in config file {path}; valid keys: {', '.join(sorted(_FIELDS))}"
            )
    return values


def resolve_config(
    *, file_values: dict[str, Any] | None = None, flag_values: dict[str, Any] | None = None
) -> BuildConfig:
    """Merge defaults < file values < flag values and validate the result.

    ``flag_values`` holds only the flags the user actually gave (``None`` means
    "not given" for flags, so they do not override the file).
    """
    merged: dict[str, Any] = {}
    for source in (file_values or {}, flag_values or {}):
        for key, value in source.items():
            if key not in _FIELDS:
                raise ConfigError(f"unknown option {key!r}; valid options: {', '.join(sorted(_FIELDS))}")
            merged[key] = _coerce(key, value)
    return _validate(BuildConfig(**merged))


def config_to_toml(config: BuildConfig) -> str:
    """The resolved configuration as TOML (``None`` values are written as comments)."""
    lines = ["# Resolved reportgen build configuration", "[build]"]
    for key, value in config.to_dict().items():
        if value is None:
            lines.append(f"# {key} = (not set)")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


