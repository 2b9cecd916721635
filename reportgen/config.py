"""The resolved configuration of a ``reportgen build``.

Precedence (as timm's ``train.py``): defaults < ``--config FILE`` (TOML) <
command-line flags.  The resolved configuration is validated in one place,
written beside the report and shown in it, so it is the run's provenance.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

# The choices below that name what another module implements (precisions, substrates, recipes, methods)
# are that module's; the rest are this module's own.
from reportgen.data.label_region import check_label_region
from reportgen.errors import ConfigError
from reportgen.explain import get_explainer, list_explainers, list_stability_variants
from reportgen.explain.shorthands import SHORTHANDS
from reportgen.inference import PRECISIONS
from reportgen.metrics.faithfulness import SUBSTRATES
from reportgen.model.architectures import check_arch
from reportgen.model.network import check_input_side
from reportgen.model.recipes import RECIPES

TARGETS = ("predicted", "label")
#: Where a build runs: in this process, or as shards on Ray (``pip install 'reportgen[ray]'``).
EXECUTORS = ("local", "ray")
DEVICES = ("auto", "cpu", "cuda", "mps")
SPLITS = ("valid", "test")


@dataclass(frozen=True)
class BuildConfig:
    """Every option of ``reportgen build``; field names are the TOML keys.

    Paths are kept as given (relative to the working directory) so the
    configuration written beside the report reads as the user wrote it.
    ``methods`` ``None`` means the registry's default methods;
    ``method_settings`` maps a method's registry name to the settings given
    for it (``[methods.<name>]`` tables, ``--set``); each method declares
    its own settings and defaults (:attr:`reportgen.explain.Explainer.defaults`).
    ``class_folders`` names an image folder's class folders (:mod:`reportgen.data.folder`) and ``label_region``
    the region that decides its labels (:mod:`reportgen.data.label_region`).
    """

    images: int = 30
    gallery: int = 60
    by_slide: bool = True
    data_dir: str | None = None
    split: str = "valid"
    checkpoint: str | None = None
    arch: str | None = None
    preprocessing: str | None = None
    input_size: int | None = None
    out: str = "report"
    shard: str | None = None
    executor: str = "local"
    ray_address: str | None = None
    shards: int | None = None
    seed: int = 0
    title: str = "Explainability audit report"
    model_name: str = "ResNet-18 (PatchCamelyon)"
    methods: tuple[str, ...] | None = None
    method_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    target: str = "predicted"
    steps: int = 100
    deletion_substrate: str = "mean"
    insertion_substrate: str = "blur"
    compare_substrates: bool = False
    sanity_images: int = 10
    stain_images: int = 10
    alpha: float = 0.05
    stability: tuple[str, ...] | None = None
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
    model_card: dict[str, str] = field(default_factory=dict)
    sign_off: dict[str, str] = field(default_factory=dict)
    class_folders: dict[str, str] = field(default_factory=dict)
    label_region: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain, TOML/JSON-friendly values (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }

    def settings_for(self, method: str) -> dict[str, Any]:
        """The settings given for ``method`` (the method fills in its own defaults)."""
        return dict(self.method_settings.get(method, {}))


#: The configuration file's document tables: what the report states about the model and who signs it.
#: Free text, shown as given (escaped); a key left out reads "not stated" (model card) or a blank line.
DOCUMENT_TABLES = {
    "model_card": ("intended_use", "out_of_scope", "owner", "version", "licence"),
    "sign_off": ("reviewer", "role", "date", "decision"),
}
#: The configuration file's data tables: an image folder's class folder names, ``{tumour = "tumor", normal =
#: "benign"}`` (a class left out keeps its own name; :func:`reportgen.data.folder.class_folder_names`).
DATA_TABLES = {"class_folders": ("tumour", "normal")}
#: Every table of string values, read and written alike.
_TABLES = {**DOCUMENT_TABLES, **DATA_TABLES}
_FIELDS = {f.name: f for f in fields(BuildConfig) if f.name not in ("method_settings", *_TABLES)}
_CHOICES = {
    "executor": EXECUTORS,
    "split": SPLITS,
    "target": TARGETS,
    "deletion_substrate": SUBSTRATES,
    "insertion_substrate": SUBSTRATES,
    "precision": PRECISIONS,
    "device": DEVICES,
    "recipe": RECIPES,
}
_POSITIVE_INTS = ("images", "steps", "batch_size", "epochs", "eval_limit", "shards")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count`` of a build's patches (``--shard K/N``; :mod:`reportgen.pipeline.shards`)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"K/N"`` -> :class:`Shard`; a ConfigError naming the problem otherwise."""
    parts = str(text).replace(" ", "").split("/")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ConfigError(f"option 'shard' {text!r} is not of the form K/N, e.g. --shard 1/4 for the first of 4 shards")
    index, count = int(parts[0]), int(parts[1])
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"option 'shard' {text!r}: K must be between 1 and N, e.g. --shard 1/{max(count, 1)}")
    return Shard(index, count)


def _unknown_key(key: str, where: str | None = None) -> ConfigError:
    """The error for an unknown option (``where`` None) or configuration-file key (``where`` names the file)."""
    what, place = ("key", f" {where}") if where else ("option", "")
    # Keys that became method settings, and where they live now (the first method that takes each).
    moved = {option: targets[0] for option, (targets, _) in SHORTHANDS.items()}
    if key in moved:
        method, setting = moved[key].split(".")
        return ConfigError(f"{what} {key!r}{place} is now a method setting: use [methods.{method}] "
                           f"{setting} = ... in the config file or --set {method}.{setting}=...")
    return ConfigError(f"unknown {what} {key!r}{place}; valid {what}s: {', '.join(sorted(_FIELDS))}")


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
    if config.gallery < 0:
        raise ConfigError(f"option 'gallery' must be 0 or more (the patches the gallery shows), got {config.gallery}")
    if config.sanity_images < 0:
        raise ConfigError(f"option 'sanity_images' must be 0 or more, got {config.sanity_images}")
    if config.stain_images < 0:
        raise ConfigError(f"option 'stain_images' must be 0 or more (0 skips the stain robustness check), "
                          f"got {config.stain_images}")
    if not 0.0 < config.alpha < 1.0:
        raise ConfigError(f"option 'alpha' (the verdicts' family-wise error rate) must be in (0, 1), got {config.alpha}")
    if config.train_fraction is not None and not 0.0 < config.train_fraction <= 1.0:
        raise ConfigError(f"option 'train_fraction' must be in (0, 1], got {config.train_fraction}")
    if not config.methods:
        raise ConfigError("option 'methods' is empty; name at least one method")
    check_input_side(config.input_size, "option 'input_size'")
    if config.arch is not None:
        check_arch(config.arch)
    if len(set(config.methods)) != len(config.methods):
        raise ConfigError(f"option 'methods' names a method twice: {', '.join(config.methods)}")
    if config.images < 2:
        raise ConfigError(f"option 'images' must be at least 2 (intervals need two patches), got {config.images}")
    if config.shard is not None:
        shard = parse_shard(config.shard)
        if shard.count > config.images // 2:
            raise ConfigError(f"option 'shard' {config.shard!r}: {shard.count} shards of {config.images} patches leave "
                              f"a shard fewer than 2; use at most {config.images // 2} shards")
        given = [flag for flag, value in (("--compare", config.compare), ("--fail-if", config.fail_if)) if value]
        if given:
            raise ConfigError(f"a shard writes no report, so {' and '.join(given)} belong to 'reportgen merge', "
                              "not to 'reportgen build --shard'")
        if config.no_cache:
            raise ConfigError("--no-cache cannot be used with --shard: a shard hands its results to the merge "
                              "through cache entries")
    if config.executor == "ray":
        if config.shard is not None:
            raise ConfigError("--executor ray runs every shard itself; drop --shard (or drop --executor ray to run "
                              "one shard here)")
        if config.shards is not None and config.shards > config.images // 2:
            raise ConfigError(f"option 'shards' ({config.shards}) leaves a shard of {config.images} patches fewer "
                              f"than 2; use at most {config.images // 2}")
    else:
        given = [flag for flag, value in (("--ray-address", config.ray_address), ("--shards", config.shards))
                 if value is not None]
        if given:
            raise ConfigError(f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} with --executor ray")
    folders = [config.class_folders.get(name, name) for name in DATA_TABLES["class_folders"]]
    if len(set(folders)) < len(folders) or any(not name.strip() or "/" in name or "\\" in name for name in folders):
        raise ConfigError(f"class_folders names the folders {', '.join(map(repr, folders))}; give the tumour and "
                          "normal classes two different folder names, without slashes")
    check_label_region(config.label_region)
    if config.eval_limit is not None and config.images > config.eval_limit:
        raise ConfigError(f"option 'images' ({config.images}) is larger than 'eval_limit' ({config.eval_limit}): "
                          "patches are explained from the evaluated ones; raise --eval-limit or lower --images")
    return config


def _resolve_methods(config: BuildConfig) -> BuildConfig:
    """Fill in the registry's default methods and check every method name and setting against its method."""
    methods = config.methods if config.methods is not None else tuple(list_explainers(default_only=True))
    for name in methods:
        get_explainer(name)
    settings = {}
    for name, given in config.method_settings.items():
        resolved = get_explainer(name).factory.resolve_settings(given)
        settings[name] = {key: resolved[key] for key in given}  # as the method normalised them (3 -> 3.0)
    return dataclasses.replace(config, methods=methods, method_settings=settings)


def _resolve_stability(config: BuildConfig) -> BuildConfig:
    """``stability`` as the list of measurements to run, in the order they run: ``None`` the ones the methods mark
    default, ``all`` or ``none``; a name is a stability variant a registered method declares."""
    measures = [variant.name for variant in list_stability_variants()]
    given = config.stability
    if given is None:
        return dataclasses.replace(config, stability=tuple(
            variant.name for variant in list_stability_variants(default_only=True)))
    valid = ", ".join((*measures, "all", "none"))
    for name in given:
        if name not in (*measures, "all", "none"):
            raise ConfigError(f"invalid stability measurement {name!r}; choose from: {valid} (comma-separated)")
    if ("all" in given or "none" in given) and len(given) > 1:
        raise ConfigError(f"option 'stability' takes 'all' or 'none' alone, got {','.join(given)}")
    if len(set(given)) != len(given):
        raise ConfigError(f"option 'stability' names a measurement twice: {','.join(given)}")
    chosen = measures if given == ("all",) else () if given == ("none",) else given
    return dataclasses.replace(config, stability=tuple(name for name in measures if name in chosen))


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML configuration file into ``{key: value}``.

    Keys may sit at the top level or under a ``[build]`` table; a method's
    settings sit in a ``[methods.<name>]`` table and come back under the key
    ``method_settings``.  Unknown keys are errors that list the valid ones.
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
    # TOML cannot hold both "methods = [...]" and "[methods.lime]" at the top level, so the
    # list of methods may sit under [build] while the top-level tables hold their settings.
    method_tables = raw.pop("methods") if isinstance(raw.get("methods"), dict) else {}
    document_tables = {name: _document_table(name, raw.pop(name), f"in config file {path}")
                       for name in DOCUMENT_TABLES if name in raw}
    values = dict(raw.pop("build", {})) if isinstance(raw.get("build"), dict) else {}
    values.update(raw)
    where = f"in config file {path}"
    # A data table may sit at the top level ([class_folders]) or under [build] (class_folders = {...}).
    document_tables.update({name: _document_table(name, values.pop(name), where) for name in DATA_TABLES
                            if name in values})
    for key in values:
        if key not in _FIELDS:
            raise _unknown_key(key, where)
    for method, table in method_tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"[methods.{method}] {where} must be a table of settings, one SETTING = VALUE a "
                              "line; put the list of methods under [build]")
    if method_tables:
        values["method_settings"] = {method: dict(table) for method, table in method_tables.items()}
    values.update(document_tables)
    return values


def _document_table(name: str, table: Any, where: str) -> dict[str, str]:
    """A ``[model_card]``, ``[sign_off]`` or ``[class_folders]`` table: known keys, each a string (a list of strings
    is joined)."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] {where} must be a table, e.g. [{name}] {_TABLES[name][0]} = \"...\"")
    values = {}
    for key, value in table.items():
        if key not in _TABLES[name]:
            raise ConfigError(f"unknown key {key!r} in [{name}] {where}; valid keys: {', '.join(_TABLES[name])}")
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = "; ".join(value)
        if isinstance(value, (datetime.date, datetime.time)):  # a TOML date such as date = 2026-12-01
            value = value.isoformat()
        if not isinstance(value, str):
            raise ConfigError(f"[{name}] {key} {where} must be text, e.g. {key} = \"...\"; got {value!r}")
        values[key] = value
    return values


def parse_setting(assignment: str) -> tuple[str, str, Any]:
    """``"lime.num_samples=2000"`` -> ``("lime", "num_samples", 2000)``.

    The value is read as a TOML value (numbers, booleans, quoted strings,
    lists); anything else is taken as a plain string, so
    ``grad_cam.target_layer=backbone.layer3.1`` needs no quotes.
    """
    target, equals, text = assignment.partition("=")
    method, dot, setting = target.strip().partition(".")
    if not (equals and dot and method and setting and text.strip()):
        raise ConfigError(f"--set {assignment!r} is not METHOD.SETTING=VALUE; "
                          "'reportgen methods' lists every method's settings")
    try:
        value = tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    return method, setting.strip(), value


def resolve_config(
    *,
    file_values: dict[str, Any] | None = None,
    flag_values: dict[str, Any] | None = None,
    settings: list[str] | tuple[str, ...] = (),
) -> BuildConfig:
    """Merge defaults < file values < flag values and validate the result.

    ``flag_values`` holds only the flags the user actually gave (``None`` means
    "not given" for flags, so they do not override the file).  ``settings``
    are ``METHOD.SETTING=VALUE`` assignments (``--set``); they override the
    file's ``[methods.<name>]`` tables.  Unknown methods, settings and
    invalid values are errors that name the valid ones.
    """
    merged: dict[str, Any] = {}
    method_settings: dict[str, dict[str, Any]] = {}
    tables: dict[str, dict[str, str]] = {}
    for source in (file_values or {}, flag_values or {}):
        for key, value in source.items():
            if key == "method_settings":
                for method, table in value.items():
                    method_settings.setdefault(method, {}).update(table)
                continue
            if key in _TABLES:
                tables.setdefault(key, {}).update(value)
                continue
            if key not in _FIELDS:
                raise _unknown_key(key)
            merged[key] = _coerce(key, value)
    for assignment in settings:
        method, setting, value = parse_setting(assignment)
        method_settings.setdefault(method, {})[setting] = value
    config = BuildConfig(**merged, method_settings=method_settings, **tables)
    return _validate(_resolve_stability(_resolve_methods(config)))


def config_to_toml(config: BuildConfig) -> str:
    """The resolved configuration as TOML (``None`` values are written as comments)."""
    lines = ["# Resolved reportgen build configuration", "[build]"]
    values = config.to_dict()
    method_settings = values.pop("method_settings")
    document_tables = {name: values.pop(name) for name in _TABLES}
    for key, value in values.items():
        if value is None:
            lines.append(f"# {key} = (not set)")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for method, table in method_settings.items():
        lines.extend(["", f"[methods.{method}]"])
        lines.extend(f"{setting} = {_toml_value(value)}" for setting, value in table.items())
    for name, table in document_tables.items():
        if table:
            lines.extend(["", f"[{name}]"])
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
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


