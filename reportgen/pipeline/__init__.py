"""``reportgen build``: the one function that knows the order of steps.

checkpoint -> data -> (training) -> evaluation -> selection (:mod:`~reportgen.pipeline.selection`) -> per chunk
of patches: explanations, scores, stability, evidence, into ``attributions.h5`` (:mod:`~reportgen.pipeline.chunks`)
-> sanity -> stain robustness -> the model-level checks on every evaluated patch
(:mod:`~reportgen.pipeline.model_checks`) -> document -> report files (or, for a shard, its patches' results:
:mod:`~reportgen.pipeline.shards`).  Each step is a call into a module of this package with one job
(:mod:`~reportgen.pipeline.data`, :mod:`~reportgen.pipeline.model`, :mod:`~reportgen.pipeline.explain`,
:mod:`~reportgen.pipeline.score`, :mod:`~reportgen.pipeline.evidence`, :mod:`~reportgen.pipeline.sanity`,
:mod:`~reportgen.pipeline.stain`, :mod:`~reportgen.pipeline.document`, :mod:`~reportgen.pipeline.output`);
this function wires them together, times them, and writes the result atomically (the previous report stays as it was if
anything fails or the run is interrupted).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from reportgen.cache import ArrayCache, default_cache_dir
from reportgen.config import BuildConfig, parse_shard, resolve_config
from reportgen.data import as_float_tensor
from reportgen.data.label_region import CENTRE, applies, label_region
from reportgen.errors import ConfigError
from reportgen.judgement.compare import load_previous_report
from reportgen.judgement.gates import parse_gate
from reportgen.metrics.slides import per_slide_accuracy
from reportgen.model.checkpoint import fit_to_patches
from reportgen.model.evaluate import evaluation_intervals
from reportgen.pipeline.chunks import explain_and_score
from reportgen.pipeline.data import dataset_mean_colour, open_data
from reportgen.pipeline.document import BuildRecord, DataFacts, assemble_document
from reportgen.pipeline.model import load_given_checkpoint, predict_evaluation_split, train_demo_model
from reportgen.pipeline.model_checks import ModelCheckOutcome, model_check_indices, model_checks, split_reader
from reportgen.pipeline.output import atomic_output_dir, check_output_dir, write_outputs
from reportgen.pipeline.patch_store import STORE_NAME, PatchStore, StoredPatches
from reportgen.pipeline.sanity import sanity_checks, sanity_controls
from reportgen.pipeline.selection import Leading, Selection, leading_patches, select_patches
from reportgen.pipeline.shards import (
    check_shards,
    import_entries,
    read_shard,
    run_identity,
    shard_positions,
    write_shard,
)
from reportgen.pipeline.stain import StainReference, reference_patch_indices, stain_checks
from reportgen.runtime import Stopwatch, machine_description, package_versions, resolve_device, seed_everything
from reportgen.schema import ReportDocument

logger = logging.getLogger(__name__)


@dataclass
class BuildOutcome:
    """Where the report went, its document (report.json) and the gates that failed.

    For a shard (``--shard K/N``) ``document`` is ``None`` and ``shard`` says what was written.
    """

    out_dir: Path
    document: ReportDocument | None
    failed_gates: list[dict]
    shard: dict | None = None


def _check_paths(config: BuildConfig) -> None:
    """Refuse missing input paths and an unusable ``--out`` before any data is generated or read."""
    if config.checkpoint and not Path(config.checkpoint).expanduser().is_file():
        raise ConfigError(f"checkpoint {config.checkpoint} does not exist; check the --checkpoint path")
    if config.data_dir and not Path(config.data_dir).expanduser().is_dir():
        raise ConfigError(f"data directory {config.data_dir} does not exist; check the --data-dir path")
    check_output_dir(Path(config.out))


@dataclass
class _Run:
    """What the per-patch steps of one build read besides the patches: the model, the split, the cache, the clock."""

    config: BuildConfig
    model: torch.nn.Module
    split: object
    evaluated: np.ndarray
    device: torch.device
    dataset_mean: tuple[float, float, float]
    cache: ArrayCache
    cache_context: dict
    watch: Stopwatch
    progress: bool
    label_region: str = CENTRE

    def stain_reference(self) -> StainReference:
        """The patches that give the data's stain amounts, read only when the stain step runs."""
        indices = reference_patch_indices(self.evaluated, seed=self.config.seed)
        reference = self.split.read(indices)
        slide_ids = self.split.slide_ids
        return StainReference(indices=indices, images=as_float_tensor(reference.images).to(self.device),
                              labels=np.asarray(reference.labels),
                              slides=None if slide_ids is None else np.asarray(slide_ids[indices]))


def _per_patch_steps(run: _Run, patch_indices: np.ndarray, targets: np.ndarray, leading: Leading, *,
                     store: PatchStore | None):
    """The steps whose results are per patch and cached per patch: explanations, curves, stability and
    (for a report) the right-for-the-right-reason step, chunk by chunk (:mod:`reportgen.pipeline.chunks`), then
    the sanity cascade on the first ``leading.sanity`` patches and the stain robustness step on the first
    ``leading.stain``.  A shard (``store`` is ``None``) runs them on its own patches and leaves the uncached
    steps (the sanity check's positive controls, the evidence step) to the merge.

    Returns
    -------
    (patch results, sanity or None, sanity controls or None, stain or None)
    """
    whole_report = store is not None
    config, model, watch = run.config, run.model, run.watch
    results = explain_and_score(model, run.split, patch_indices, targets, config=config, dataset_mean=run.dataset_mean,
                                cache=run.cache, cache_context=run.cache_context, watch=watch, device=run.device,
                                store=store, evidence=whole_report and applies(run.label_region), leading=leading.count,
                                progress=run.progress)
    sanity = controls = stain = None
    if leading.count:
        first = run.split.read(patch_indices[: leading.count])
        images = as_float_tensor(first.images).to(run.device)
        first_targets = torch.as_tensor(targets[: leading.count], dtype=torch.long, device=run.device)
        methods = {name: replace(result, maps=results.leading_maps[name]) for name, result in results.methods.items()}
        if leading.sanity:
            count = leading.sanity
            with watch.stage("sanity"):
                sanity = sanity_checks(model, images[:count], first_targets[:count], patch_indices[:count], methods,
                                       config=config, cache=run.cache, cache_context=run.cache_context)
                if whole_report:
                    controls = sanity_controls(model, images[:count], first_targets[:count], config=config)
        if leading.stain:
            count = leading.stain
            with watch.stage("stain"):
                stain = stain_checks(model, images[:count], first_targets[:count], patch_indices[:count], methods,
                                     config=config, dataset_mean=run.dataset_mean, cache=run.cache,
                                     cache_context=run.cache_context, reference=run.stain_reference(),
                                     progress=run.progress)
    return results, sanity, controls, stain


def _model_checks(run: _Run, stain) -> ModelCheckOutcome:
    """The model-level checks on every evaluated patch (or the stated sample of a large split); with the stain
    conditions when the stain step ran (``stain``: its outcome, which holds the data's stain amounts)."""
    indices, chosen = model_check_indices(run.evaluated, seed=run.config.seed)
    slide_ids = run.split.slide_ids
    return model_checks(run.model, split_reader(run.split, run.device), indices, np.asarray(run.split.labels)[indices],
                        slides=None if slide_ids is None else np.asarray(slide_ids)[indices],
                        evaluated=len(run.evaluated), chosen=chosen, config=run.config,
                        dataset_mean=run.dataset_mean, stain_amounts=None if stain is None else stain.amounts,
                        cache=run.cache, cache_context=run.cache_context, progress=run.progress)


def _leading(config: BuildConfig, positions) -> Leading:
    return leading_patches(positions, sanity_images=config.sanity_images, stain_images=config.stain_images)


def _check_run(identity: dict, expected: dict) -> None:
    """Refuse a merge whose checkpoint or data are not those the shards audited."""
    for key, words, option in (("checkpoint_sha256", "checkpoint", "--checkpoint"),
                               ("data_fingerprint", "data", "--data-dir")):
        if identity[key] != expected[key]:
            raise ConfigError(f"the {words} found for the merge is not the one the shards audited "
                              f"({str(identity[key])[:12]} against {str(expected[key])[:12]}); give the merge "
                              f"the shards' {words} with {option}")


def prepare_inputs(config: BuildConfig, *, progress: bool = True) -> None:
    """Refuse bad input, make the embedded data and train (or find) the demo model, all into the cache.

    Workers that start together would otherwise each make them; after this they read them.
    """
    _check_paths(config)
    if config.compare:
        load_previous_report(config.compare)
    for text in config.fail_if:
        parse_gate(text)
    # The same order of seeding, loading and training as build_report, so the model trained here is its model.
    device = resolve_device(config.device)
    seed_everything(config.seed)
    cache_root = Path(config.cache_dir).expanduser() if config.cache_dir else default_cache_dir()
    loaded = load_given_checkpoint(config, device=device)
    data = open_data(config, cache_root)
    if loaded is None:
        train_demo_model(config, data, cache_root=cache_root, device=device, progress=progress)


#: The last step of a report: write ``report.html`` (and ``report.pdf`` when the flag is true) for a finished
#: document into a folder, drawing its patches and maps from the store (:class:`StoredPatches`).  The command
#: line passes :func:`reportgen.report.render.render_stored`; the pipeline itself renders nothing.
Renderer = Callable[[ReportDocument, StoredPatches, Path, bool], object]


def build_report(config: BuildConfig, *, render: Renderer | None, command_line: str = "", progress: bool = True,
                 expected_run: dict | None = None) -> BuildOutcome:
    """Build ``report.html``, ``report.pdf``, ``report.json`` and ``attributions.h5`` (:mod:`reportgen.pipeline.patch_store`) into ``config.out``.

    ``render`` writes the HTML and PDF of the finished document (:data:`Renderer`); a shard renders nothing and
    takes ``None``.

    With ``config.shard`` (``"K/N"``) only that shard's patches are explained and scored, and
    ``config.out`` receives their results and ``shard.json`` instead of a report
    (:mod:`reportgen.pipeline.shards`).  ``expected_run`` is the run identity a merge must reproduce.

    Raises :class:`reportgen.errors.UserInputError` for bad input (nothing is
    written and the previous report is untouched); gates are evaluated but do
    not raise: the caller decides the exit code from ``failed_gates``.
    """
    # Everything that can be refused is refused before the first expensive step.
    if render is None and not config.shard:
        raise ValueError("a report build needs a renderer (reportgen.report.render.render_stored)")
    _check_paths(config)
    previous = load_previous_report(config.compare) if config.compare else None
    gates = [parse_gate(text) for text in config.fail_if]
    watch = Stopwatch()
    device = resolve_device(config.device)
    seed_everything(config.seed)
    cache_root = Path(config.cache_dir).expanduser() if config.cache_dir else default_cache_dir()
    cache = ArrayCache(cache_root / "results", enabled=not config.no_cache)

    with atomic_output_dir(config.out) as staging:
        with watch.stage("checkpoint"):
            # A given checkpoint is checked before any data is read or generated.
            loaded = load_given_checkpoint(config, device=device)
        with watch.stage("data"):
            data = open_data(config, cache_root)
            split = _audited_split(data, config.split)
            region = label_region(data.source, config.label_region, data.patch_size)
            if loaded is not None:
                loaded = fit_to_patches(loaded, data.patch_size, input_size=config.input_size)
        if loaded is None:
            with watch.stage("training"):
                loaded = train_demo_model(config, data, cache_root=cache_root, device=device, progress=progress)
        # channels_last: the faster convolution layout for batched CPU and GPU inference.
        model = loaded.model.to(device, memory_format=torch.channels_last).eval()
        cache_context = {"checkpoint": loaded.info["sha256"], "data": data.fingerprint, "split": config.split}
        with watch.stage("evaluation"):
            evaluated, probabilities, labels, evaluation = predict_evaluation_split(
                model, split, config=config, progress=progress, cache=cache, cache_context=cache_context)
        with watch.stage("selection"):
            split_slides = None if split.slide_ids is None else np.asarray(split.slide_ids)[evaluated]
            selection = select_patches(config.split, evaluated, labels, probabilities, count=config.images,
                                       seed=config.seed, target=config.target, slide_ids=split_slides,
                                       by_slide=config.by_slide)
            slide_accuracy = (None if split_slides is None
                              else per_slide_accuracy(labels, probabilities.argmax(axis=1), split_slides))
            evaluation = {**evaluation, "intervals": evaluation_intervals(probabilities, labels, seed=config.seed,
                                                                          groups=split_slides)}
            run = _Run(config=config, model=model, split=split, evaluated=evaluated, device=device,
                       dataset_mean=dataset_mean_colour(data, config.split, cache=cache), cache=cache,
                       cache_context=cache_context, watch=watch, progress=progress,
                       label_region=region)
            identity = run_identity(config, checkpoint_sha256=loaded.info["sha256"], data_fingerprint=data.fingerprint,
                                    code_version=cache.version, patch_ids=selection.patch_ids)
            if expected_run is not None:
                _check_run(identity, expected_run)
        if config.shard:
            return _build_shard(run, selection, staging, identity)
        store = PatchStore(staging / STORE_NAME, patch_ids=selection.patch_ids, patch_indices=selection.indices,
                           labels=selection.labels, targets=selection.targets, predictions=selection.predictions)
        with contextlib.closing(store):
            results, sanity, controls, stain = _per_patch_steps(
                run, selection.indices, selection.targets, _leading(config, np.arange(len(selection))), store=store)
        # Forward passes only, on every evaluated patch; after the shards' steps, so a merge runs them as a build does.
        with watch.stage("model_checks"):
            checked = _model_checks(run, stain)
        # The images, masks and maps are read back from the store, one patch at a time, where they are drawn.
        with contextlib.closing(StoredPatches(staging / STORE_NAME)) as stored:
            methods = {name: replace(result, maps=stored.maps[name]) for name, result in results.methods.items()}
            record = BuildRecord(
                config=config, command_line=command_line, data=_data_facts(data, split, config.data_dir, run.label_region),
                model_info=loaded.info, evaluation=evaluation, selection=selection, methods=methods,
                scores=results.scores, sanity=sanity, sanity_controls=controls, dataset_mean=run.dataset_mean,
                machine=machine_description(device), versions=package_versions(), timings=watch.seconds,
                stability=results.stability, evidence=results.evidence, slide_accuracy=slide_accuracy,
                images=stored.images, masks=stored.masks, stain=stain, model_checks=checked,
            )
            document = assemble_document(record, previous=previous, gates=gates)
            with watch.stage("render"):
                render(document, stored, staging, config.pdf)
        write_outputs(staging, document, config)

    failed = [gate for gate in document.gates or [] if not gate["passed"]]
    return BuildOutcome(out_dir=Path(config.out), document=document, failed_gates=failed)


def _audited_split(data, name: str):
    """The split the report audits."""
    split = data.split(name)
    if split.slide_ids is None:
        logger.info("the %s split has no slide ids: patches are the unit of every interval and test, and the "
                    "explained patches are spread over confidence only", name)
    return split


def _data_facts(data, split, data_dir: str | None, region: str) -> DataFacts:
    split_labels = np.asarray(split.labels)
    return DataFacts(source=data.source, data_dir=data_dir, fingerprint=data.fingerprint,
                     counts={name: len(s) for name, s in data.splits.items()},
                     split_label_counts={"0": int((split_labels == 0).sum()), "1": int((split_labels == 1).sum())},
                     has_masks=bool(split.has_masks), label_region=region, patch_size=data.patch_size)


def _build_shard(run: _Run, selection: Selection, staging: Path, identity: dict) -> BuildOutcome:
    """Explain and score a shard's share of the selected patches into the cache, then write their entries and
    ``shard.json`` (:func:`reportgen.pipeline.shards.write_shard`)."""
    config = run.config
    shard = parse_shard(config.shard)
    keep = shard_positions(len(selection), shard)
    _per_patch_steps(run, selection.indices[keep], selection.targets[keep], _leading(config, keep), store=None)
    patch_ids = selection.patch_ids
    entries = write_shard(staging, run.cache, shard=shard, identity=identity, config=config,
                          patch_ids=[patch_ids[i] for i in keep])
    logger.info("shard %s: %d of %d patches, %d results written", shard, len(keep), len(selection), entries)
    return BuildOutcome(out_dir=Path(config.out), document=None, failed_gates=[],
                        shard={"index": shard.index, "count": shard.count, "patches": len(keep), "entries": entries})


def merge_shards(directories: list[str], *, out: str, render: Renderer, command_line: str = "", progress: bool = True,
                 overrides: dict | None = None) -> BuildOutcome:
    """``reportgen merge``: the report of a run built in shards, equal in every number to an unsharded build.

    Parameters
    ----------
    directories : every shard directory of one run (``reportgen build --shard K/N --out DIR``), in any order.
    out : the report directory.
    render : writes the report's HTML and PDF (:data:`Renderer`).
    overrides : options the merge may set (``compare``, ``fail_if``, ``pdf``, ``cache_dir``, and ``checkpoint``
        and ``data_dir`` when the inputs lie elsewhere on this machine); the rest come from the shards.

    Raises
    ------
    ConfigError
        When the directories are not exactly the shards of one run, or the checkpoint or data found
        for the merge are not those the shards audited.
    """
    manifests = [read_shard(directory) for directory in directories]
    first = check_shards(manifests)
    values = {**first["config"], "shard": None, "out": out, "compare": None, "fail_if": [], "no_cache": False, "pdf": True}
    values.update({key: value for key, value in (overrides or {}).items() if value is not None})
    config = resolve_config(flag_values=values)
    cache_root = Path(config.cache_dir).expanduser() if config.cache_dir else default_cache_dir()
    imported = import_entries(manifests, ArrayCache(cache_root / "results"))
    logger.info("merging %d shards of %d patches: %d results imported into the cache", len(manifests),
                len(first["identity"]["patch_ids"]), imported)
    return build_report(config, render=render, command_line=command_line, progress=progress,
                        expected_run=first["identity"])
