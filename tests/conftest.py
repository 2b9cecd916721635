"""Shared fixtures for end-to-end tests: a tiny synthetic PCam directory and untrained checkpoints.

End-to-end tests exercise the whole pipeline mechanics (data -> model ->
explanations -> metrics -> report), not model quality, so they use freshly
initialised networks saved as checkpoints and small settings.

The data, the checkpoints and the builds that tests only read are made once per run, not once per
pytest-xdist worker (:func:`made_once`): a test comparing its own build with the shared one then
also sees the same paths in both.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil

import pytest

# pytest-xdist runs one worker per core; one compute thread each (set before any test imports
# torch, and inherited by the processes tests start) keeps the workers from oversubscribing the cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

#: Small but complete build settings for end-to-end tests.
FAST_BUILD_ARGS = [
    "--images", "4", "--steps", "8", "--ig-steps", "4", "--lime-samples", "24", "--sanity-images", "2",
    "--stain-images", "2", "--eval-limit", "48", "--batch-size", "64", "--no-pdf", "-q",
]

#: Added to :data:`FAST_BUILD_ARGS`: the per-patch steps only, without the sanity, stain and stability steps.
#: For builds compared number for number with :func:`lean_build` where those steps are not the question.
LEAN_BUILD_ARGS = ["--sanity-images", "0", "--stain-images", "0", "--stability", "none"]

#: Test files whose tests start whole builds in processes of their own (Ray workers, example scripts):
#: the longest tests, started first so that no worker is left with one of them at the end of the run.
LONGEST_FIRST = ("test_examples.py", "test_ray_executor.py")


def pytest_collection_modifyitems(config, items):
    """Order the tests longest first: the example scripts and Ray, then the end-to-end builds, then the rest.

    pytest-xdist hands a worker one test at a time in this order (``--maxschedchunk 1``), so the builds are
    spread over the workers first and the short tests fill the gaps. One reader of :func:`shared_build` goes
    before them all: one worker makes that build while the other starts the longest tests, and the many
    readers that follow find it made instead of waiting for it together.
    """
    first_reader = next((item for item in items if "shared_build" in item.fixturenames), None)

    def rank(item) -> int:
        if item is first_reader:
            return -1
        if item.path.name in LONGEST_FIRST:
            return 0
        return 1 if "tiny_pcam" in item.fixturenames else 2

    items.sort(key=rank)  # stable: file order within each rank


def made_once(tmp_path_factory, name: str, make):
    """``<run folder>/shared/<name>``, made by ``make(path)`` once for every xdist worker of this run.

    The first worker to ask makes it under a file lock; the others wait for the lock and reuse it.
    Without xdist the run folder is the session's own temporary folder.
    """
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    root.mkdir(exist_ok=True)
    path, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)
            make(path)
            done.touch()
    return path


def rendered_once(tmp_path_factory, name: str, render):
    """``render(folder)``'s value, computed once for every xdist worker of this run (:func:`made_once`).

    For module fixtures that write a report and return what the tests read (paths, sizes, the document):
    the value is pickled beside the files, and every worker reads the same files.
    """
    def make(folder):
        folder.mkdir()
        (folder / "value.pickle").write_bytes(pickle.dumps(render(folder)))

    return pickle.loads((made_once(tmp_path_factory, name, make) / "value.pickle").read_bytes())


@pytest.fixture(scope="session")
def tiny_pcam(tmp_path_factory):
    """A synthetic PCam-format directory: 64 train, 48 valid, 16 test patches, with masks."""
    from reportgen.data.synth import write_synthetic_pcam

    return made_once(tmp_path_factory, "pcam",
                     lambda path: write_synthetic_pcam(path, seed=3, n_train=64, n_valid=48, n_test=16))


def _untrained_checkpoint(path, seed):
    import torch

    from reportgen.model.checkpoint import save_checkpoint
    from reportgen.model.network import build_model

    torch.manual_seed(seed)
    model = build_model()
    save_checkpoint(path, model, recipe="full", weights="none", training={"note": "untrained test model"},
                    history=[], evaluation=None, data_fingerprint=None, epoch=0)
    return path


def _checkpoint(tmp_path_factory, name, seed):
    def make(folder):
        folder.mkdir()
        _untrained_checkpoint(folder / f"{name}.pt", seed=seed)

    return made_once(tmp_path_factory, f"ckpt-{name}", make) / f"{name}.pt"


@pytest.fixture(scope="session")
def checkpoint_a(tmp_path_factory):
    return _checkpoint(tmp_path_factory, "a", seed=1)


@pytest.fixture(scope="session")
def checkpoint_b(tmp_path_factory):
    return _checkpoint(tmp_path_factory, "b", seed=2)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Point the reportgen cache at a fresh directory, so no test reads or writes the user's cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("REPORTGEN_CACHE", str(cache))
    return cache


def run_build(data_dir, checkpoint, out, cache_dir, *extra) -> int:
    """``reportgen build`` in this process, with :data:`FAST_BUILD_ARGS`; returns the exit code."""
    from reportgen.cli import main

    return main(["build", "--data-dir", str(data_dir), "--checkpoint", str(checkpoint), "--out", str(out),
                 "--cache-dir", str(cache_dir), *FAST_BUILD_ARGS, *extra])


@pytest.fixture(scope="session")
def shared_build(tmp_path_factory, tiny_pcam, checkpoint_a):
    """One real build of the default methods, shared by every test that only reads its output.

    Returns the output directory; its cache directory is ``<out>/../cache``.
    """
    def make(root):
        assert run_build(tiny_pcam, checkpoint_a, root / "report", root / "cache") == 0

    return made_once(tmp_path_factory, "shared-build", make) / "report"


@pytest.fixture(scope="session")
def lean_build(tmp_path_factory, tiny_pcam, checkpoint_a):
    """:func:`shared_build` with :data:`LEAN_BUILD_ARGS`: the reference of builds that skip those steps too.

    Returns the output directory; its cache directory is ``<out>/../cache``.
    """
    def make(root):
        assert run_build(tiny_pcam, checkpoint_a, root / "report", root / "cache", *LEAN_BUILD_ARGS) == 0

    return made_once(tmp_path_factory, "lean-build", make) / "report"
