"""A checkpoint's SHA-256 names its weights and settings: the same training twice writes the same bytes.

The training's wall-clock times, which differ between identical runs, live beside the checkpoint in
``<file>.timings.json`` and are joined back when it is loaded, so the report still shows them.
"""

import json

import pytest

from reportgen.cli import main
from reportgen.model.checkpoint import file_sha256, load_checkpoint, save_checkpoint
from reportgen.model.timings import timings_path


def _train(data_dir, out, *extra) -> None:
    assert main(["train", "--data-dir", str(data_dir), "--out", str(out), "--epochs", "1", "--train-fraction", "1",
                 "--device", "cpu", "-q", *extra]) == 0


def test_the_same_seed_writes_the_same_checkpoint_and_another_seed_another(tmp_path, tiny_pcam):
    first, second, other = tmp_path / "first.pt", tmp_path / "second.pt", tmp_path / "other.pt"
    _train(tiny_pcam, first)
    _train(tiny_pcam, second)
    assert file_sha256(first) == file_sha256(second)
    assert first.read_bytes() == second.read_bytes()
    # The times are kept, beside each file, and differ as wall-clock times do.
    times = [json.loads(timings_path(path).read_text()) for path in (first, second)]
    assert [entry["checkpoint_sha256"] for entry in times] == [file_sha256(first)] * 2
    assert all(entry["training"]["seconds"] > 0 for entry in times)
    loaded = load_checkpoint(first)
    assert loaded.info["sha256"] == file_sha256(first)
    assert loaded.info["training"]["seconds"] == times[0]["training"]["seconds"]
    assert loaded.info["history"][0]["seconds"] == times[0]["history"][0]["seconds"]
    assert loaded.info["history"][0]["loss"] > 0

    _train(tiny_pcam, other, "--seed", "1")
    assert file_sha256(first) != file_sha256(other)


@pytest.fixture
def saved(tmp_path):
    import torch

    from reportgen.model.network import build_model

    torch.manual_seed(0)
    path = tmp_path / "model.pt"
    save_checkpoint(path, build_model(), recipe="full", weights="none",
                    training={"epochs": 1, "seconds": 12.5, "device": "cpu"},
                    history=[{"epoch": 1, "loss": 0.5, "seconds": 12.0, "images_per_second": 80.0}],
                    evaluation=None, data_fingerprint="data", epoch=1)
    return path


def test_times_are_kept_out_of_the_checkpoint_and_joined_back_on_load(saved):
    from reportgen.model.checkpoint import safe_torch_load

    raw = safe_torch_load(saved)
    assert "seconds" not in raw["training"] and raw["history"] == [{"epoch": 1, "loss": 0.5}]
    info = load_checkpoint(saved).info
    assert info["training"] == {"epochs": 1, "seconds": 12.5, "device": "cpu"}
    assert info["history"] == [{"epoch": 1, "loss": 0.5, "seconds": 12.0, "images_per_second": 80.0}]


def test_times_written_for_other_bytes_are_ignored(saved):
    sidecar = timings_path(saved)
    stale = json.loads(sidecar.read_text())
    stale["checkpoint_sha256"] = "0" * 64
    sidecar.write_text(json.dumps(stale))
    info = load_checkpoint(saved).info
    assert "seconds" not in info["training"] and info["history"] == [{"epoch": 1, "loss": 0.5}]
    sidecar.write_text("not json")
    assert "seconds" not in load_checkpoint(saved).info["training"]
