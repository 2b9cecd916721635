"""Shared fixtures for end-to-end tests: a tiny synthetic PCam directory and untrained checkpoints.

End-to-end tests exercise the whole pipeline mechanics (data -> model ->
explanations -> metrics -> report), not model quality, so they use freshly
initialised networks saved as checkpoints and small settings.
"""

from __future__ import annotations

import os

import pytest

# pytest-xdist runs one worker per core; one compute thread each (set before any test imports
# torch, and inherited by the processes tests start) keeps the workers from oversubscribing the cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

#: Small but complete build settings for end-to-end tests.
FAST_BUILD_ARGS = [
    "--images", "4", "--steps", "8", "--ig-steps", "4", "--lime-samples", "24", "--sanity-images", "2",
    "--stain-images", "2", "--eval-limit", "48", "--batch-size", "64", "--no-pdf", "-q",
]


@pytest.fixture(scope="session")
def tiny_pcam(tmp_path_factory):
    """A synthetic PCam-format directory: 64 train, 48 valid, 16 test patches, with masks."""
    from reportgen.data.synth import write_synthetic_pcam

    return write_synthetic_pcam(tmp_path_factory.mktemp("pcam"), seed=3, n_train=64, n_valid=48, n_test=16)


def _untrained_checkpoint(path, seed):
    import torch

    from reportgen.model.checkpoint import save_checkpoint
    from reportgen.model.network import build_model

    torch.manual_seed(seed)
    model = build_model()
    save_checkpoint(path, model, recipe="full", weights="none", training={"note": "untrained test model"},
                    history=[], evaluation=None, data_fingerprint=None, epoch=0)
    return path


@pytest.fixture(scope="session")
def checkpoint_a(tmp_path_factory):
    return _untrained_checkpoint(tmp_path_factory.mktemp("ckpt") / "a.pt", seed=1)


@pytest.fixture(scope="session")
def checkpoint_b(tmp_path_factory):
    return _untrained_checkpoint(tmp_path_factory.mktemp("ckpt") / "b.pt", seed=2)


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
    root = tmp_path_factory.mktemp("shared-build")
    code = run_build(tiny_pcam, checkpoint_a, root / "report", root / "cache")
    assert code == 0
    return root / "report"
