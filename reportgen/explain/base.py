"""The contract every explanation method follows, and the method registry.

A method is one short file that subclasses :class:`Explainer` and registers
itself with :func:`register`.  Constructor takes the model and the settings; the
call takes the data (as captum does)::

    explainer = get_explainer("integrated_gradients").create(model, seed=0)
    result = explainer.explain(images, targets)   # -> Explanation
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from reportgen.data.files import PATCH_SIZE
from reportgen.errors import DataError, unknown_name_error
from reportgen.explain._runtime import guarded_model
from reportgen.explain._settings import check_choice, check_int, check_known
from reportgen.inference import PRECISIONS, model_device

if TYPE_CHECKING:  # the schema reads the methods' stability variants from here
    from reportgen.schema import MethodSection


@dataclass(frozen=True)
class Explanation:
    """What one method produced for a batch of images.

    Attributes
    ----------
    method : registry name of the method.
    maps : (N, H, W) float32 raw attribution, signed where the method is signed.
        Metrics rank pixels by these values, highest first.
    settings : every setting that determines the maps (for provenance and cache keys).
    seconds : wall time of :meth:`Explainer.explain`.
    forward_passes, backward_passes : image-passes spent (a batch of 8 counts 8).
    display_maps : (N, H, W) float32 to show instead of ``maps``, or ``None``
        (LIME shows the top-5 positive superpixels; metrics still use ``maps``).
    warnings : human-readable warnings (e.g. a 3x3 Grad-CAM feature map).
    extras : per-image diagnostics, each an (N,) array (e.g. IG completeness delta).
    """

    method: str
    maps: np.ndarray
    settings: dict
    seconds: float
    forward_passes: int
    backward_passes: int
    display_maps: np.ndarray | None = None
    warnings: tuple[str, ...] = ()
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def normalised(self) -> np.ndarray:
        """(N, H, W) display maps scaled per image to [0, 1] (absolute value for signed maps)."""
        maps = np.abs(self.display_maps if self.display_maps is not None else self.maps)
        flat = maps.reshape(len(maps), -1)
        low = flat.min(axis=1, keepdims=True)
        span = flat.max(axis=1, keepdims=True) - low
        scaled = (flat - low) / np.where(span > 0, span, 1.0)
        return scaled.reshape(maps.shape).astype(np.float32)


@dataclass(frozen=True)
class MethodStanding:
    """What a report decided about a method, for the warnings the method gives about its own maps.

    Attributes
    ----------
    title : the method's display title.
    not_better_than_random : the metrics ("deletion", "insertion", "srg") on which its maps are not better
        than the random map by the verdict rule.
    other_settings_scored : the report scores the method at other settings as well (a stability table, e.g.
        Grad-CAM per layer).
    patch_size : side of the explained patches in pixels.
    centre_decides : the centre 32x32 decides the label, as in PCam (:mod:`reportgen.data.label_region`).
    """

    title: str
    not_better_than_random: tuple[str, ...] = ()
    other_settings_scored: bool = False
    patch_size: int = PATCH_SIZE
    centre_decides: bool = True


#: How a stability variant's maps are read, in the order the measurements run and report.json lists them:
#: ``seed`` the report's maps against the maps from a second seed; ``pairs`` the maps at each value of a setting,
#: every pair compared and each set scored; ``table`` each value's maps scored and tested against the random map.
STABILITY_KINDS = ("seed", "pairs", "table")
#: A ``seed`` variant's second seed is the per-patch rule applied to the run seed plus this.
SECOND_SEED_OFFSET = 1


@dataclass(frozen=True)
class StabilityVariant:
    """A stability measurement a method declares: its maps again with one free choice changed
    (:mod:`reportgen.pipeline.stability` runs it, the report's stability section shows it).

    Attributes
    ----------
    name : the ``--stability`` value and the measurement's key in report.json's ``stability`` section.
    title : how the report names the measurement.
    kind : how the variant maps are read, one of :data:`STABILITY_KINDS`.
    setting : the method setting that takes each of ``values`` (kinds ``pairs`` and ``table``).
    values : the values it takes, in the report's order; a method may read them from the model instead
        (:meth:`Explainer.variant_values`), these being then the values without a model.
    varies : what changes, in report.json's keys and the report's words: a ``pairs`` record lists the values under
        ``<varies>s``; a ``table`` record has ``default_<varies>``, ``used_<varies>``, ``depends_on_<varies>`` and
        each row's value under ``<varies>``.
    facts : settings the variant maps record, shown per value (settings key -> column label; kind ``table``).
    note : what the seed seeds, closing a ``seed`` variant's seed rule.
    default : run when ``--stability`` is not given.  Rule, fixed before the costs were measured: a measurement
        runs by default when it adds at most a quarter of the time of the uncached default 30-patch build on the
        2-core CPU machine (docs/report.md#which-stability-measurements-run-by-default).
    method : the registry name of the method that declares it (filled in by :func:`list_stability_variants`).
    """

    name: str
    title: str
    kind: str
    setting: str = ""
    values: tuple[str, ...] = ()
    varies: str = ""
    facts: dict[str, str] = field(default_factory=dict)
    note: str = ""
    default: bool = True
    method: str = ""

    def runs(self, seed: int) -> dict[str, tuple[dict, int]]:
        """The variant maps to compute: label -> (the method settings changed, the run seed), in report order."""
        if self.kind == "seed":
            return {"second seed": ({}, seed + SECOND_SEED_OFFSET)}
        return {value: ({self.setting: value}, seed) for value in self.values}

    def seed_rule(self, seed: int) -> str:
        """How a ``seed`` variant's two seeds are chosen, for run seed ``seed``."""
        return (f"first seed SeedSequence([{seed}, patch index]) (the report's map), second seed "
                f"SeedSequence([{seed + SECOND_SEED_OFFSET}, patch index]); {self.note}")

    def __post_init__(self):
        if self.kind not in STABILITY_KINDS:
            raise ValueError(f"stability variant {self.name!r} has kind {self.kind!r}; choose from: "
                             f"{', '.join(STABILITY_KINDS)}")


class Explainer:
    """Base class: subclasses set :attr:`name` and :attr:`defaults` and implement :meth:`_attribute`.

    Parameters
    ----------
    model : classifier taking (N, 3, H, W) float in [0, 1], returning (N, C) logits.
        Explanations run on the model's device; the model is left exactly as
        it was (mode, ``requires_grad`` flags, ``.grad``, no hooks).
    seed : seed for every random choice the method makes (default 0).
    batch_size : images per forward pass (default 256); bounds peak memory.
    precision : "fp32" (default) or "bf16"; bf16 applies only to gradient-free
        perturbation forwards (LIME, occlusion, KernelSHAP), gradients stay fp32.
    progress : show a tqdm bar over images for slow methods (default False).
    **settings : method-specific settings; see each subclass's ``defaults``.
        Unknown names and invalid values raise :class:`ConfigError`.
    """

    name: str = ""
    #: Labels of the method's own settings that the report's body shows (key -> label, in order); every key, labelled
    #: or not, stays in report.json and the appendix.  ``model_output`` and ``seed`` are labelled for every method
    #: (:meth:`report_setting_labels`).
    setting_labels: dict[str, str] = {}
    #: Labels of the method's per-patch diagnostics (its ``extras``), shown as mean [95 % CI] over the patches.
    extra_labels: dict[str, str] = {}
    #: Diagnostics shown beside each patch in the gallery (extras key -> the words after the method's title).
    patch_facts: dict[str, str] = {}
    #: Method-specific settings and their defaults (docs/metrics.md#method-settings).
    defaults: dict = {}
    #: The method's stability measurements (:class:`StabilityVariant`): its maps again with a free choice changed.
    stability_variants: tuple[StabilityVariant, ...] = ()
    #: The architectures (``--arch`` names) whose layers the method's defaults name, or ``None`` for any model;
    #: a build with another architecture refuses the method before any work.
    architectures: tuple[str, ...] | None = None

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        seed: int = 0,
        batch_size: int = 256,
        precision: str = "fp32",
        progress: bool = False,
        **settings,
    ):
        self.model = model
        self.seed = check_int(self.name, "seed", seed, minimum=0)
        self.batch_size = check_int(self.name, "batch_size", batch_size)
        self.precision = check_choice(self.name, "precision", precision, PRECISIONS)
        self.progress = bool(progress)
        self.settings = self.resolve_settings({**self.model_defaults(model), **settings})
        self.forward_passes = 0
        self.backward_passes = 0
        self.warnings: list[str] = []

    def explain(self, images: torch.Tensor, targets: torch.Tensor) -> Explanation:
        """Explain ``targets`` (N,) long for ``images`` (N, 3, H, W) float in [0, 1]."""
        images, targets = self._check_inputs(images, targets)
        self.forward_passes = self.backward_passes = 0
        self.warnings = []
        started = time.perf_counter()
        with guarded_model(self.model):
            maps, display_maps, extras = self._attribute(images, targets)
        seconds = time.perf_counter() - started
        return Explanation(
            method=self.name,
            maps=np.asarray(maps, dtype=np.float32),
            settings=self.describe(),
            seconds=seconds,
            forward_passes=self.forward_passes,
            backward_passes=self.backward_passes,
            display_maps=None if display_maps is None else np.asarray(display_maps, dtype=np.float32),
            warnings=tuple(self.warnings),
            extras=extras or {},
        )

    def describe(self) -> dict:
        """Every setting that determines the maps, plus library versions (JSON-serialisable)."""
        return {
            "method": self.name,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "precision": self.precision,
            **self.settings,
            **self._details(),
        }

    @classmethod
    def resolve_settings(cls, given: dict) -> dict:
        """The method's settings: :attr:`defaults` overridden by ``given``, checked.

        Needs no model, so a configuration is checked before any expensive
        step. Unknown names and invalid values raise a ConfigError that names
        the valid ones.
        """
        check_known(cls.name, given, cls.defaults)
        return cls._check_settings({**cls.defaults, **given})

    @classmethod
    def _check_settings(cls, settings: dict) -> dict:
        """``settings`` with values normalised; raise ConfigError for an invalid one."""
        return settings

    @classmethod
    def model_defaults(cls, model: torch.nn.Module) -> dict:
        """Defaults that depend on ``model`` (a CAM's target layer), taking the place of :attr:`defaults`' values."""
        return {}

    @classmethod
    def check_model(cls, model: torch.nn.Module, given: dict) -> None:
        """Raise a one-line ConfigError when the method cannot run on ``model`` with the ``given`` settings
        (checked once the model is loaded, before any work); the default accepts every model."""

    @classmethod
    def variant_values(cls, variant: StabilityVariant, model: torch.nn.Module) -> tuple[str, ...]:
        """The values stability ``variant`` takes on ``model``: its declared ``values`` unless the method reads
        them from the model (a CAM's layers)."""
        return variant.values

    @classmethod
    def variant_skip_reason(cls, variant: StabilityVariant, model: torch.nn.Module) -> str | None:
        """Why stability ``variant`` cannot run on ``model`` (it takes no value there), or ``None``."""
        return None

    def _details(self) -> dict:
        """Extra provenance (fixed choices, library versions) for :meth:`describe`."""
        return {}

    @classmethod
    def summary_warnings(cls, extras: dict[str, np.ndarray]) -> list[str]:
        """Warnings that only all patches together can raise, from the (N,) ``extras`` of every patch.

        Patches are explained one at a time, so a rule over the whole set (a median,
        a share) lives here; the default raises none.
        """
        return []

    @classmethod
    def report_setting_labels(cls) -> tuple[tuple[str, str], ...]:
        """(settings key, label) of every setting the report's body shows, in order."""
        return (("model_output", "Output explained"), *cls.setting_labels.items(), ("seed", "Seed"))

    @classmethod
    def report_warnings(cls, record: MethodSection, standing: MethodStanding) -> list[tuple[str, str]]:
        """The warnings the report gives about this method's maps, as ``(severity, text)``.

        ``record`` is the method's record in report.json (``settings``, ``warnings``, ``extras``);
        ``standing`` is what the report decided about the method.  The default states the method's own
        warnings (medium), each once, under its title; a method overrides it to add what only it knows
        (a CAM's coarse feature map, a superpixel method's coarse superpixels).
        """
        return [("medium", f"{standing.title}: {str(message).removeprefix(f'{cls.name}: ')}")
                for message in record.warnings]

    def _attribute(self, images, targets):
        """Return ``(maps, display_maps_or_None, extras_dict_or_None)``.

        ``images`` (N, 3, H, W) float32 and ``targets`` (N,) long arrive on the
        model's device; maps go back as (N, H, W) arrays on the CPU.
        """
        raise NotImplementedError

    def _check_inputs(self, images, targets) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
            raise DataError(f"{self.name}: images have shape {shape}; pass a (N, 3, H, W) float tensor in [0, 1]")
        targets = torch.as_tensor(targets)
        if targets.shape != (len(images),):
            raise DataError(
                f"{self.name}: targets have shape {tuple(targets.shape)}; pass one class index per image, shape ({len(images)},)"
            )
        device = model_device(self.model)
        return images.detach().to(device, torch.float32), targets.to(device, torch.long)


@dataclass(frozen=True)
class ExplainerInfo:
    """A registry record.

    Attributes
    ----------
    title : human-readable name for the report.
    factory : the Explainer subclass; its :attr:`Explainer.name` is the registry key used by
        ``--methods`` and in report.json, stated once on the class.
    default : run when ``--methods`` is not given.
    signed : whether raw maps carry a sign.
    reference : paper the method comes from.
    """

    title: str
    factory: type[Explainer]
    default: bool
    signed: bool
    reference: str

    @property
    def name(self) -> str:
        """The registry key: the factory's :attr:`Explainer.name`."""
        return self.factory.name

    def create(self, model: torch.nn.Module, **settings) -> Explainer:
        return self.factory(model, **settings)


_REGISTRY: dict[str, ExplainerInfo] = {}
#: The built-in methods' modules, in the registry's order, which is the report's order of methods.  Each registers
#: its method when imported; :func:`_load_methods` imports them the first time the registry is read or written.
METHOD_MODULES = ("integrated_gradients", "grad_cam", "lime", "saliency", "smoothgrad", "occlusion", "kernel_shap",
                  "grad_cam_pp")
_methods_loaded = False


def _load_methods() -> None:
    global _methods_loaded
    if _methods_loaded:
        return
    _methods_loaded = True  # before the imports: each module's register() call comes back here
    for module in METHOD_MODULES:
        importlib.import_module(f"reportgen.explain.{module}")


def register(info: ExplainerInfo) -> ExplainerInfo:
    """Add a method to the registry under its factory's name (names are unique), after the built-in ones."""
    _load_methods()
    if not info.name:
        raise ValueError(f"{info.factory.__name__} has no name; set the class attribute name")
    if info.name in _REGISTRY:
        raise ValueError(f"explainer {info.name!r} is already registered")
    _REGISTRY[info.name] = info
    return info


def unregister(name: str) -> None:
    """Remove a method from the registry (for methods registered by a test or a plugin's teardown)."""
    _load_methods()
    _REGISTRY.pop(name, None)


def list_explainers(*, default_only: bool = False) -> list[str]:
    """Registered method names: the built-in ones in :data:`METHOD_MODULES` order, then the others in the order
    they were registered."""
    return [name for name, info in _ordered().items() if info.default or not default_only]


def list_stability_variants(*, default_only: bool = False) -> list[StabilityVariant]:
    """The registered methods' stability variants (each with its ``method``), by :data:`STABILITY_KINDS` and then
    in the registry's order: the order the measurements run and report.json lists them."""
    variants = [dataclasses.replace(variant, method=name) for name, info in _ordered().items()
                for variant in info.factory.stability_variants if variant.default or not default_only]
    return sorted(variants, key=lambda variant: STABILITY_KINDS.index(variant.kind))


def _ordered() -> dict[str, ExplainerInfo]:
    # A built-in module imported on its own registers while the others load, so the order is its module's place.
    _load_methods()
    modules = [f"reportgen.explain.{module}" for module in METHOD_MODULES]
    arrival = list(_REGISTRY)

    def place(name: str) -> tuple[int, int]:
        module = _REGISTRY[name].factory.__module__
        return (modules.index(module) if module in modules else len(modules), arrival.index(name))

    return {name: _REGISTRY[name] for name in sorted(_REGISTRY, key=place)}


def explainer_class(name: str) -> type[Explainer]:
    """The class of registered method ``name``; for a name no longer registered (a method in an older report), a
    plain :class:`Explainer` of that name, so its recorded settings and warnings are still shown as they are."""
    _load_methods()
    if name in _REGISTRY:
        return _REGISTRY[name].factory
    return type("UnregisteredMethod", (Explainer,), {"name": name})


def get_explainer(name: str) -> ExplainerInfo:
    """The registry record for ``name``; unknown names raise a ConfigError listing valid ones."""
    _load_methods()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise unknown_name_error("method", name, list(_ordered())) from None
