"""``reportgen build --executor ray``: the shards of a build as Ray tasks, then the merge.

Ray (https://docs.ray.io) schedules the tasks, places them on CPUs or GPUs, and
retries a task whose worker process or machine dies (``max_retries``); a task that
raises is not retried (the same input would fail again) and is reported by shard.
Each task builds one shard (:mod:`reportgen.pipeline.shards`) in a temporary
directory of its worker, loading the model once, and returns the shard's files
through Ray's object store, so the nodes of a cluster need no shared output
directory; the checkpoint and the data must be readable at the same paths on
every node.  The driver writes the shards beside ``--out``, merges them into the
report atomically and deletes them: nothing partial reaches the report directory.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from reportgen.config import BuildConfig
from reportgen.errors import ConfigError, ReportgenError

logger = logging.getLogger(__name__)

#: Retries of a shard whose worker died (Ray's ``max_retries``, for system failures only).
WORKER_RETRIES = 2


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray, an optional extra: pip install 'reportgen[ray]'") from None
    return ray


def shard_files(config_values: dict, index: int, count: int, threads: int | None = None) -> dict[str, bytes]:
    """Build shard ``index`` of ``count`` in a temporary directory; its files as ``{relative path: bytes}``.

    Runs inside a Ray worker (and in tests, in this process).  ``threads``: torch's compute threads, the
    driver's; a convolution's last bits depend on how many threads share it, so a shard computed with
    other threads than the unsharded build would differ from it in its last bits.
    """
    import torch

    from reportgen.config import resolve_config
    from reportgen.pipeline import build_report

    if threads:
        torch.set_num_threads(threads)

    with tempfile.TemporaryDirectory(prefix="reportgen-shard-") as temporary:
        out = Path(temporary) / f"shard-{index}"
        config = resolve_config(flag_values={**config_values, "executor": "local", "ray_address": None,
                                             "shards": None, "shard": f"{index}/{count}", "out": str(out),
                                             "compare": None, "fail_if": [], "pdf": False})
        build_report(config, render=None, progress=False)
        return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*"))
                if path.is_file()}


def write_shard_files(files: dict[str, bytes], directory: Path) -> Path:
    """Write what :func:`shard_files` returned under ``directory``; returns it."""
    for relative, content in files.items():
        target = directory / relative
        if ".." in Path(relative).parts:
            raise ConfigError(f"a shard returned the path {relative!r}, outside its directory; rerun the build")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return directory


def shard_failure(error: BaseException, index: int, count: int) -> ReportgenError:
    """The one-line error for shard ``index`` of ``count`` whose task failed with ``error``."""
    ray = _import_ray()
    # Ray raises a task's exception wrapped (its text is the worker's traceback); the original is ``cause``.
    cause = getattr(error, "cause", None)
    reason = cause if isinstance(cause, ReportgenError) else error if not cause else None
    if isinstance(reason, ReportgenError):
        failure = ReportgenError(f"shard {index}/{count}: {reason}")
        failure.exit_code = reason.exit_code
        return failure
    if isinstance(error, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                          ray.exceptions.OutOfMemoryError)):
        return ReportgenError(f"shard {index}/{count}: its worker died {WORKER_RETRIES + 1} times "
                              f"({type(error).__name__}); no report was written. Check the Ray logs of that node, "
                              "or run that shard alone with 'reportgen build --shard'")
    summary = str(cause or error).strip().splitlines()[-1] if str(cause or error).strip() else type(error).__name__
    return ReportgenError(f"shard {index}/{count} failed in its Ray worker: {summary}; no report was written")


def _start(ray, address: str | None, workers: int | None) -> None:
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)


def build_with_ray(config: BuildConfig, *, render, command_line: str = "", progress: bool = True):
    """Fan the shards of ``config``'s build out as Ray tasks and merge them into ``config.out``.

    ``config.shards`` shards (default: as many as the cluster runs at once, or one per GPU when it has GPUs,
    at most ``images // 2``); a local Ray instance starts unless ``config.ray_address`` names a cluster.
    ``render`` writes the merged report's HTML and PDF (:data:`reportgen.pipeline.Renderer`).
    Each task computes with as many threads as this process (and asks Ray for as many CPUs), so its
    numbers are those of a build in this process, to the last bit.

    Returns
    -------
    the merge's :class:`reportgen.pipeline.BuildOutcome`.
    """
    import torch

    from reportgen.pipeline import merge_shards, prepare_inputs

    ray = _import_ray()
    threads = torch.get_num_threads()
    prepare_inputs(config, progress=progress)  # the demo data and model once, before workers race to make them
    started_here = not ray.is_initialized()
    if started_here:
        _start(ray, config.ray_address, None if config.shards is None else config.shards * threads)
    try:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        count = config.shards or max(1, gpus or int(resources.get("CPU", 1)) // threads)
        count = min(count, config.images // 2)
        task = ray.remote(num_cpus=threads, num_gpus=1 if gpus else 0, max_retries=WORKER_RETRIES)(shard_files)
        values = config.to_dict()
        logger.info("Ray: %d shards on %s CPUs and %d GPUs, %d compute threads each", count, resources.get("CPU", 0),
                    gpus, threads)
        pending = {task.remote(values, index, count, threads): index for index in range(1, count + 1)}
        out = Path(config.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.shards-", dir=out.parent))
        try:
            directories = []
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(done[0])
                try:
                    files = ray.get(done[0])
                except Exception as error:  # noqa: BLE001 - every task failure becomes one line naming its shard
                    for reference in pending:
                        ray.cancel(reference)
                    raise shard_failure(error, index, count) from None
                directories.append(write_shard_files(files, staging / f"shard-{index}"))
                logger.info("Ray: shard %d/%d done (%d of %d)", index, count, len(directories), count)
            return merge_shards([str(d) for d in directories], out=config.out, render=render, command_line=command_line,
                                progress=progress, overrides={"compare": config.compare, "fail_if": config.fail_if,
                                                              "pdf": config.pdf, "cache_dir": config.cache_dir})
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        if started_here:
            ray.shutdown()
