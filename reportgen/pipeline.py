"""The one function that knows the order of steps: data -> model -> explanations -> metrics -> report.

Every step is a call into a module with one job; this file only wires them
together, times them, and writes the result atomically (the previous report
stays as it was if anything fails or the run is interrupted).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reportgen.cache import ArrayCache, default_cache_dir
from reportgen.config import BuildConfig, config_to_toml
from reportgen.data.pcam import as_float_tensor
from reportgen.data.sampling import select_cases
from reportgen.document import assemble_document
from reportgen.explain import get_explainer
from reportgen.explaining import explain_patches
from reportgen.output import atomic_output_dir
from reportgen.report.figures import FigureInputs
from reportgen.report.render import render_report
from reportgen.report.compare import compare_reports, load_previous_report
from reportgen.report.gates import evaluate_gates, parse_gate
from reportgen.report.summary import summarise
from reportgen.runtime import Stopwatch, resolve_device, seed_everything
from reportgen.scoring import score_all
from reportgen.steps import dataset_mean_colour, obtain_model, open_data, predict_split_with_limit

logger = logging.getLogger(__name__)


@dataclass
class BuildOutcome:
    """Where the report went, its document (report.json) and the gates that failed."""

    out_dir: Path
    document: dict
    failed_gates: list[dict]


def _validate_early(config: BuildConfig) -> tuple[dict | None, list]:
    """Check everything that can be checked before any expensive work."""
    for name in config.methods:
        get_explainer(name)
    previous = load_previous_report(config.compare) if config.compare else None
    gates = [parse_gate(text) for text in config.fail_if]
    return previous, gates


def build_report(config: BuildConfig, *, command_line: str = "", progress: bool = True) -> BuildOutcome:
    """Build ``report.html``, ``report.pdf``, ``report.json`` and ``attributions.npz`` into ``config.out``.

    Raises :class:`reportgen.errors.UserInputError` for bad input (nothing is
    written and the previous report is untouched); gates are evaluated but do
    not raise: the caller decides the exit code from ``failed_gates``.
    """
    previous, gates = _validate_early(config)
    watch = Stopwatch()
    device = resolve_device(config.device)
    seed_everything(config.seed)
    cache_root = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    cache = ArrayCache(cache_root / "results", enabled=not config.no_cache)

    with atomic_output_dir(config.out) as staging:
        with watch.stage("data"):
            data = open_data(config, cache_root)
            split = data.split(config.split)
        with watch.stage("model"):
            loaded = obtain_model(config, data, cache_root=cache_root, device=device, progress=progress)
            # channels_last: the faster convolution layout for batched CPU and GPU inference.
            model = loaded.model.to(device, memory_format=torch.channels_last).eval()
        cache_context = {"checkpoint": loaded.info["sha256"], "data": data.fingerprint, "split": config.split}
        with watch.stage("evaluation"):
            evaluated_indices, probabilities, labels, evaluation = predict_split_with_limit(
                model, split, limit=config.eval_limit, batch_size=config.batch_size, progress=progress,
                cache=cache, cache_context=cache_context)
        with watch.stage("selection"):
            predictions = probabilities.argmax(axis=1)
            chosen, strata, selection_description = select_cases(
                labels, predictions, probabilities.max(axis=1), config.images, seed=config.seed)
            patch_indices = evaluated_indices[chosen]
            order = np.argsort(patch_indices, kind="stable")  # report patches in split order
            chosen, strata, patch_indices = chosen[order], [strata[i] for i in order], patch_indices[order]
            batch = split.read(patch_indices)
            images = as_float_tensor(batch.images).to(device)
            targets_np = predictions[chosen] if config.target == "predicted" else labels[chosen]
            targets = torch.as_tensor(targets_np, dtype=torch.long, device=device)
            dataset_mean = dataset_mean_colour(data, config.split, cache=cache)
        with watch.stage("explain"):
            methods = explain_patches(model, images, targets, patch_indices, methods=config.methods, config=config,
                                      cache=cache, cache_context=cache_context, progress=progress)
        scores = score_all(model, images, targets, patch_indices, batch.masks, methods, config=config,
                           dataset_mean=dataset_mean, cache=cache, cache_context=cache_context, watch=watch,
                           progress=progress)

        document = assemble_document(
            config=config, command_line=command_line, data=data, loaded=loaded, evaluation=evaluation,
            patch_indices=patch_indices, labels=labels[chosen], predictions=predictions[chosen],
            probabilities=probabilities[chosen], targets=targets_np, strata=strata,
            slide_ids=None if split.slide_ids is None else split.slide_ids[patch_indices],
            selection_description=selection_description, methods=methods, scores=scores,
            dataset_mean=dataset_mean, device=device, timings=watch.seconds,
        )
        document["summary"] = summarise(document)
        if previous is not None:
            document["comparison"] = compare_reports(document, previous)
        document["gates"] = evaluate_gates(gates, document) if gates else None

        figures = FigureInputs(
            images=batch.images,
            maps={name: result.display_maps for name, result in methods.items()},
            masks=batch.masks,
        )
        with watch.stage("render"):
            render_report(document, figures, staging, pdf=config.pdf)
        document["provenance"]["timings"] = dict(watch.seconds)
        _write_outputs(staging, document, config, batch, methods, targets_np, predictions[chosen], patch_indices)

    failed = [gate for gate in document["gates"] or [] if not gate["passed"]]
    return BuildOutcome(out_dir=Path(config.out), document=document, failed_gates=failed)


def _write_outputs(staging: Path, document: dict, config: BuildConfig, batch, methods, targets, predictions,
                   patch_indices) -> None:
    """report.json, the resolved configuration, and the raw maps a user can recompute anything from."""
    (staging / "report.json").write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    (staging / "config.toml").write_text(config_to_toml(config), encoding="utf-8")
    np.savez_compressed(
        staging / "attributions.npz",
        images=batch.images,
        patch_ids=np.array([f"{config.split}:{int(i)}" for i in patch_indices]),
        patch_indices=np.asarray(patch_indices, dtype=np.int64),
        labels=np.asarray(batch.labels, dtype=np.int64),
        targets=np.asarray(targets, dtype=np.int64),
        predictions=np.asarray(predictions, dtype=np.int64),
        **{f"maps_{name}": result.maps for name, result in methods.items()},
        **({"masks": batch.masks} if batch.masks is not None else {}),
    )
