"""Runs that share a cache (two scheduled audits started together) make each cache entry once.

A run that needs an entry another run is making (the embedded data set, the demo checkpoint, a result)
waits for it and reuses it, so nothing is computed twice and every report names the checkpoint that is in
the cache; and a run killed while it makes an entry leaves nothing that blocks the next one.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import FAST_BUILD_ARGS

from reportgen.model.checkpoint import file_sha256

#: The build of these tests: no --checkpoint, so the model is trained (the head recipe, one epoch: seconds).
#: One method and no sanity, stain or stability step: the tests are about the cache entries two runs share
#: (the checkpoint, the maps and curves), not about the report's other sections.
TRAINING_BUILD_ARGS = [*(arg for arg in FAST_BUILD_ARGS if arg != "-q"), "--methods", "grad_cam",
                       "--sanity-images", "0", "--stain-images", "0", "--stability", "none",
                       "--recipe", "head", "--epochs", "1"]


def _start(code: str, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _start_build(tiny_pcam, cache, out, log, *extra) -> subprocess.Popen:
    """``reportgen build`` in its own process, its output (stdout and stderr) sent to the file ``log``."""
    with open(log, "w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "reportgen", "build", "--data-dir", str(tiny_pcam), "--out", str(out),
             "--cache-dir", str(cache), *TRAINING_BUILD_ARGS, *extra],
            stdout=handle, stderr=subprocess.STDOUT)


#: Two processes asking for one result entry at once; each says whether it computed it or read it.
MEMO = """
    import sys, time
    from pathlib import Path
    import numpy as np
    from reportgen.cache import ArrayCache

    cache = ArrayCache(Path(sys.argv[1]), version="test")

    def compute():
        with open(sys.argv[2], "a") as log:
            log.write("computed\\n")
        time.sleep(2)  # long enough for the other process to ask for the same entry meanwhile
        return {"x": np.arange(3)}

    if sys.argv[3] == "rows":
        keys = [cache.key(row=row) for row in range(3)]
        entries, computed = cache.memo_rows(keys, lambda rows: [compute() for _ in rows],
                                            lambda entry: entry["x"].shape == (3,))
        print("computed" if computed else "hit")
    else:
        _, hit = cache.memo(cache.key(name="entry"), compute, lambda entry: entry["x"].shape == (3,))
        print("hit" if hit else "computed")
"""


def test_two_processes_needing_one_result_compute_it_once(tmp_path):
    # Both kinds at once: each pair has its own cache and log, and most of their time is the computations' sleep.
    started = {kind: [_start(MEMO, tmp_path / f"cache-{kind}", tmp_path / f"{kind}.log", kind) for _ in range(2)]
               for kind in ("one", "rows")}
    for kind, per_compute in (("one", 1), ("rows", 3)):
        log, processes = tmp_path / f"{kind}.log", started[kind]
        outputs = [process.communicate(timeout=120) for process in processes]
        assert [process.returncode for process in processes] == [0, 0], outputs
        assert sorted(out.strip() for out, _ in outputs) == ["computed", "hit"], outputs
        assert log.read_text().count("computed") == per_compute
        assert not list((tmp_path / f"cache-{kind}").rglob("*.lock"))  # removed once the entries exist


DEMO_DATA = """
    import logging, sys
    from reportgen.data.demo import ensure_demo_data

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(ensure_demo_data(sys.argv[1], sizes={"train": 512, "valid": 256, "test": 64}))
"""


def test_two_runs_needing_the_demo_data_generate_it_once(tmp_path):
    processes = [_start(DEMO_DATA, tmp_path / "cache") for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert len({out.strip() for out, _ in outputs}) == 1
    assert sum(err.count("generating synthetic demo data") for _, err in outputs) == 1, outputs
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == [Path(outputs[0][0].strip()).name]


def _comparable(document: dict) -> dict:
    """report.json without what differs between two runs of the same audit: times, dates, paths, cache use."""
    varying = {"generated_at", "seconds", "images_per_second", "timings", "command_line", "out", "cached_patches",
               "forward_passes", "backward_passes", "cache_hit"}

    def strip(value):
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if key not in varying}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return strip(document)


def test_two_builds_started_together_train_once_and_name_the_cached_checkpoint(tmp_path, tiny_pcam):
    cache = tmp_path / "cache"
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    builds = [_start_build(tiny_pcam, cache, tmp_path / name, log) for name, log in zip("ab", logs)]
    codes = [build.wait(timeout=900) for build in builds]
    texts = [log.read_text() for log in logs]
    assert codes == [0, 0], texts
    assert sum(text.count("epoch 1/1:") for text in texts) == 1, texts  # trained once
    # A run that follows another says so once per kind of entry (the model, the results), not once per entry.
    assert all(text.count("waiting for another reportgen run") <= 2 for text in texts), texts
    (checkpoint,) = (cache / "checkpoints").glob("*.pt")
    documents = [json.loads((tmp_path / name / "report.json").read_text()) for name in "ab"]
    assert [document["model"]["checkpoint"]["sha256"] for document in documents] == [file_sha256(checkpoint)] * 2
    assert _comparable(documents[0]) == _comparable(documents[1])
    # Each map was computed by one of the two builds and read from the cache by the other.
    for name in documents[0]["methods"]:
        assert sum(document["methods"][name]["cached_patches"] for document in documents) == 4, name
    assert not list(cache.rglob("*.lock"))


def test_a_build_killed_while_training_leaves_no_lock_that_blocks_the_next(tmp_path, tiny_pcam):
    cache = tmp_path / "cache"
    # The full recipe on the whole training split: one epoch (seconds) is long enough to be caught in the act,
    # the lock being polled every 20 ms.
    slow = ["--recipe", "full", "--epochs", "1", "--train-fraction", "1"]
    killed = _start_build(tiny_pcam, cache, tmp_path / "killed", tmp_path / "killed.log", *slow)
    deadline = time.monotonic() + 300
    while not list(cache.glob("checkpoints/*.lock")) and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.02)
    assert killed.poll() is None, "the build finished training before it could be killed"
    os.kill(killed.pid, signal.SIGKILL)  # no handler runs: only the operating system can release the lock
    killed.wait(timeout=60)
    assert list(cache.glob("checkpoints/*.lock")), "the killed build should leave its lock file behind"
    code = _start_build(tiny_pcam, cache, tmp_path / "next", tmp_path / "next.log", *slow).wait(timeout=600)
    text = (tmp_path / "next.log").read_text()
    assert code == 0, text
    assert "waiting for another reportgen run" not in text
    (checkpoint,) = (cache / "checkpoints").glob("*.pt")
    document = json.loads((tmp_path / "next" / "report.json").read_text())
    assert document["model"]["checkpoint"]["sha256"] == file_sha256(checkpoint)
    assert not list(cache.glob("checkpoints/*.lock"))
