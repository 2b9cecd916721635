"""The examples run as documented: the scheduled-run script keeps history when a build fails."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import FAST_BUILD_ARGS

ROOT = Path(__file__).resolve().parents[1]
#: Build options that leave only what the scripts' tests look at: a report, its gates and its comparison.
SCRIPT_ONLY = ["--methods", "grad_cam", "--sanity-images", "0", "--stain-images", "0", "--stability", "none"]


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _regenerate(audit: Path, data: Path, checkpoint: Path, cache: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "AUDIT_DIR": str(audit), "DATA_DIR": str(data), "CHECKPOINT": str(checkpoint),
                   "CONFIG": str(ROOT / "examples" / "report.toml"), "REPORTGEN": f"{sys.executable} -m reportgen"}
    # One method and no sanity, stain or stability step: the test is about the script, not the numbers.
    return subprocess.run(["bash", str(ROOT / "examples" / "regenerate.sh"), *FAST_BUILD_ARGS, *SCRIPT_ONLY,
                           "--cache-dir", str(cache)], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=300)


def test_regenerate_rotates_only_after_a_build_that_wrote_a_report(tmp_path, tiny_pcam, checkpoint_a):
    audit, cache = tmp_path / "audit", tmp_path / "cache"
    first = _regenerate(audit, tiny_pcam, checkpoint_a, cache)
    # examples/report.toml gates on accuracy<0.85, which an untrained model fails: exit 3, report written.
    assert first.returncode == 3, first.stderr
    assert (audit / "current" / "report.json").exists() and not (audit / "previous").exists()
    last_run = _snapshot(audit / "current")

    second = _regenerate(audit, tiny_pcam, checkpoint_a, cache)
    assert second.returncode == 3, second.stderr
    assert _snapshot(audit / "previous") == last_run  # the last report became the previous one
    assert '"comparison": {' in (audit / "current" / "report.json").read_text()

    before = _snapshot(audit)
    failed = _regenerate(audit, tiny_pcam, tmp_path / "no-such-checkpoint.pt", cache)
    assert failed.returncode == 2
    assert failed.stderr.splitlines() == [line for line in failed.stderr.splitlines()
                                          if line.startswith("reportgen: error:")] and failed.stderr
    assert _snapshot(audit) == before  # current and previous exactly as they were, no half-built next
    assert sorted(p.name for p in audit.iterdir()) == ["current", "previous"]


def _without_option(arguments: list[str], option: str) -> list[str]:
    at = arguments.index(option)
    return arguments[:at] + arguments[at + 2:]


def test_the_slurm_array_builds_every_shard_and_its_merge_writes_the_report(tmp_path, tiny_pcam, checkpoint_a):
    # Stand-ins for the cluster: sbatch records the merge job it is asked to queue; reportgen is this checkout's.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text('#!/bin/bash\nfor a in "$@"; do case "$prev" in --wrap) echo "$a" > '
                                    f'"{tmp_path}/merge-job";; esac; prev=$a; done\n')
    (bin_dir / "reportgen").write_text(f'#!/bin/bash\nexec "{sys.executable}" -m reportgen "$@"\n')
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SHARDS": "2", "IMAGES": "4",
                   "CHECKPOINT": str(checkpoint_a), "DATA_DIR": str(tiny_pcam), "AUDIT": str(tmp_path / "audit"),
                   "EXTRA_ARGS": " ".join([*_without_option(FAST_BUILD_ARGS, "--images"), *SCRIPT_ONLY]),
                   "SLURM_ARRAY_JOB_ID": "41"}
    for task in ("1", "2"):
        done = subprocess.run(["bash", str(ROOT / "examples" / "slurm-shards.sbatch")], cwd=tmp_path,
                              env={**environment, "SLURM_ARRAY_TASK_ID": task}, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "audit" / "shards" / task / "shard.json").exists()
    merge = (tmp_path / "merge-job").read_text()
    assert merge.startswith("reportgen merge ")  # queued once, by the first task
    merged = subprocess.run(["bash", "-c", merge], cwd=tmp_path, env=environment, capture_output=True, text=True,
                            timeout=300)
    assert merged.returncode == 3, merged.stderr  # an untrained model fails the accuracy gate; the report is written
    assert (tmp_path / "audit" / "report" / "report.json").exists()
