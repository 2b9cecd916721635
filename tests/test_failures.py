"""Bad input fails loudly and safely: exit code, one line naming the problem, no traceback,
and the previous report left byte-identical.  Interrupted builds leave nothing behind."""

import gzip
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import FAST_BUILD_ARGS
from torchvision.models import resnet34

from reportgen.cli import main

PCAM = "camelyonpatch_level_2_split_{split}_{part}.h5"


def _copy_pcam(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _rewrite(directory: Path, split: str, part: str, **datasets):
    path = directory / PCAM.format(split=split, part=part)
    path.unlink()
    with h5py.File(path, "w") as handle:
        for name, array in datasets.items():
            handle.create_dataset(name, data=array)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def _bad_inputs(tmp_path: Path, tiny_pcam: Path, checkpoint: Path):
    """(case id, extra build args, fragment the error must contain)."""
    cases = []
    data = lambda name: _copy_pcam(tiny_pcam, tmp_path / name)  # noqa: E731

    cases.append(("missing data dir", ["--data-dir", str(tmp_path / "nowhere")], "nowhere"))

    corrupt = data("corrupt")
    (corrupt / PCAM.format(split="valid", part="x")).write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    cases.append(("corrupt hdf5", ["--data-dir", str(corrupt)], "valid_x"))

    truncated_gz = data("truncated-gz")
    x_path = truncated_gz / PCAM.format(split="valid", part="x")
    compressed = gzip.compress(x_path.read_bytes())
    x_path.unlink()
    (truncated_gz / (x_path.name + ".gz")).write_bytes(compressed[: len(compressed) // 2])
    cases.append(("truncated h5.gz", ["--data-dir", str(truncated_gz)], "valid_x.h5.gz"))

    wrong_shape = data("wrong-shape")
    _rewrite(wrong_shape, "valid", "x", x=np.zeros((48, 64, 64, 3), np.uint8))
    cases.append(("wrong image shape", ["--data-dir", str(wrong_shape)], "valid_x"))

    bad_labels = data("bad-labels")
    _rewrite(bad_labels, "valid", "y", y=np.full((48, 1, 1, 1), 7, np.uint8))
    cases.append(("labels outside 0/1", ["--data-dir", str(bad_labels)], "valid_y"))

    lengths = data("lengths")
    _rewrite(lengths, "valid", "y", y=np.zeros((10, 1, 1, 1), np.uint8))
    cases.append(("x and y lengths differ", ["--data-dir", str(lengths)], "valid"))

    other_arch = tmp_path / "resnet34.pt"
    torch.save(resnet34(weights=None).state_dict(), other_arch)
    cases.append(("other architecture", ["--checkpoint", str(other_arch)], "resnet34.pt"))

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:5000])
    cases.append(("truncated checkpoint", ["--checkpoint", str(truncated)], "truncated.pt"))

    malicious = tmp_path / "malicious.pt"
    malicious.write_bytes(pickle.dumps({"model_state_dict": _RunsCode()}))
    cases.append(("pickle that runs code", ["--checkpoint", str(malicious)], "malicious.pt"))

    cases.append(("missing checkpoint", ["--checkpoint", str(tmp_path / "absent.pt")], "absent.pt"))

    trained = torch.load(checkpoint, weights_only=True)
    for case, name, poison in (("NaN head weights", "fc.weight", float("nan")),
                               ("Inf in one convolution", "layer3.1.conv2.weight", float("inf"))):
        diverged = {**trained, "state_dict": {k: v.clone() for k, v in trained["state_dict"].items()}}
        diverged["state_dict"][name].view(-1)[0] = poison
        path = tmp_path / f"{name}.pt"
        torch.save(diverged, path)
        cases.append((case, ["--checkpoint", str(path)], f"NaN or infinite values ({name})"))

    overflowing = {**trained, "state_dict": dict(trained["state_dict"])}
    overflowing["state_dict"]["fc.weight"] = torch.full_like(trained["state_dict"]["fc.weight"], 3e38)
    torch.save(overflowing, tmp_path / "overflow.pt")
    cases.append(("finite weights, non-finite outputs", ["--checkpoint", str(tmp_path / "overflow.pt")],
                  "outputs are NaN or infinite on"))

    backbone = trained["state_dict"]
    torch.save({"state_dict": {**{f"model.{k}": v for k, v in backbone.items()},
                               **{f"ema.{k}": v for k, v in backbone.items()}}, "hyper_parameters": {}},
               tmp_path / "two-networks.ckpt")
    cases.append(("ambiguous Lightning checkpoint", ["--checkpoint", str(tmp_path / "two-networks.ckpt")],
                  "ambiguous checkpoint: a resnet18 under 'ema.', 'model.'"))
    cases.append(("--images 0", ["--images", "0"], "images"))
    cases.append(("--images beyond the split", ["--images", "5000", "--eval-limit", "48"], "5000"))
    cases.append(("unknown method", ["--methods", "grad_cam,deeplift"], "deeplift"))
    cases.append(("invalid substrate", ["--substrate", "grey"], "grey"))
    cases.append(("invalid target", ["--target", "truth"], "truth"))
    cases.append(("unknown stability measurement", ["--stability", "grad_cam_layers,shapley"], "shapley"))
    cases.append(("stability all beside a name", ["--stability", "all,lime_seeds"], "alone"))

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cases.append(("unwritable output directory", ["--out", str(blocker / "report")], "a-file"))

    not_a_report = tmp_path / "precious"
    not_a_report.mkdir()
    (not_a_report / "notes.txt").write_text("keep me")
    cases.append(("output dir that is not a report", ["--out", str(not_a_report)], "precious"))

    malformed = tmp_path / "malformed.toml"
    malformed.write_text("images = [1,\n")
    cases.append(("malformed config", ["--config", str(malformed)], "malformed.toml"))

    unknown_key = tmp_path / "unknown.toml"
    unknown_key.write_text("colour = 'red'\n")
    cases.append(("unknown config key", ["--config", str(unknown_key)], "colour"))

    cases.append(("malformed gate", ["--fail-if", "accuracy<<0.9"], "accuracy<<0.9"))
    cases.append(("missing previous report", ["--compare", str(tmp_path / "old" / "report.json")], "report.json"))
    return cases


def test_bad_inputs_fail_with_one_line_and_keep_the_previous_report(tmp_path, tiny_pcam, checkpoint_a, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.json").write_text('{"schema_version": 1, "previous": true}')
    (out / "report.html").write_bytes(b"<html>last month</html>")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    cases = _bad_inputs(tmp_path, tiny_pcam, checkpoint_a)
    assert len(cases) >= 15
    failures = []
    for case, extra, fragment in cases:
        args = ["build", "--data-dir", str(tiny_pcam), "--checkpoint", str(checkpoint_a), "--out", str(out),
                "--cache-dir", str(tmp_path / "cache"), *FAST_BUILD_ARGS, *extra]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main(args)
        err = capsys.readouterr().err
        error_lines = [line for line in err.splitlines() if line.startswith("reportgen: error:")]
        problems = []
        if code != 2:
            problems.append(f"exit code {code}")
        if err.splitlines() != error_lines or len(error_lines) != 1 or fragment not in error_lines[0]:
            problems.append(f"message {err!r} is not one error line naming {fragment!r}")
        if caught:
            problems.append(f"library warning {str(caught[0].message)[:80]!r}")
        if "Traceback" in err:
            problems.append("traceback shown")
        if {p.name: p.read_bytes() for p in out.iterdir()} != before:
            problems.append("previous report changed")
        if problems:
            failures.append(f"{case}: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")]
    assert not leftovers


def test_a_real_process_prints_one_line_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "reportgen", "build", "--data-dir", str(tmp_path / "missing"), "--out",
         str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("reportgen: error:") == 1 and "Traceback" not in result.stderr
    assert "--debug" not in result.stderr


def test_debug_shows_the_traceback(tmp_path, capsys):
    assert main(["build", "--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_build_leaves_previous_report_and_no_temporary_files(tmp_path, tiny_pcam, checkpoint_a, signum):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.json").write_text('{"previous": true}')
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    slow = [arg for arg in FAST_BUILD_ARGS]
    slow[slow.index("--lime-samples") + 1] = "2000"
    process = subprocess.Popen(
        [sys.executable, "-m", "reportgen", "build", "--data-dir", str(tiny_pcam), "--checkpoint",
         str(checkpoint_a), "--out", str(out), "--no-cache", *slow, "--methods", "lime"],
        stderr=subprocess.PIPE, text=True,
        # A shell's background job inherits SIGINT ignored, and so would the build; give it the default, as a
        # terminal's foreground job has, so the test does not depend on how the suite was started.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".report.tmp-*")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the build finished before it could be interrupted"
    time.sleep(1.0)  # well inside the work, not just the set-up
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
