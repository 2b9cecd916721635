"""Builds in shards: every shard's results merge into the report an unsharded build writes, number for number."""

import json
import math
import shutil

import pytest
from conftest import LEAN_BUILD_ARGS, made_once, run_build

from reportgen.cli import main
from reportgen.config import Shard, parse_shard, resolve_config
from reportgen.errors import ConfigError
from reportgen.pipeline.shards import shard_positions

#: What says how long a run took, when, on which machine and from which paths: not what it measured.
RUN_FACTS = ("generated_at", "provenance.timings", "provenance.forward_passes", "provenance.command_line",
             "provenance.config", "provenance.machine", "model.checkpoint.path")
#: Keys of a method record that count the work this run did (a cached patch costs nothing).
WORK_DONE = ("seconds", "cached_patches", "forward_passes", "backward_passes")


def _leaves(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _measured(report_dir) -> dict:
    document = json.loads((report_dir / "report.json").read_text())
    return {path: value for path, value in _leaves(document)
            if not any(path == fact or path.startswith(fact + ".") for fact in RUN_FACTS)
            and path.rsplit(".", 1)[-1] not in WORK_DONE}


def assert_same_numbers(report_dir, reference_dir):
    """Every leaf of report.json equal, exactly (NaN equal to NaN), except the run's own facts."""
    measured, reference = _measured(report_dir), _measured(reference_dir)
    assert measured.keys() == reference.keys()
    differ = [path for path, value in measured.items()
              if not (value == reference[path]
                      or (isinstance(value, float) and math.isnan(value) and math.isnan(reference[path])))]
    assert differ == [], differ[:10]
    assert len(measured) > 1000  # the comparison covers the whole document, not a handful of keys


def _build_shards(tiny_pcam, checkpoint, root, count, *extra):
    """Shards 1 to ``count`` of a build of :data:`conftest.FAST_BUILD_ARGS` and :data:`conftest.LEAN_BUILD_ARGS`."""
    directories = []
    for index in range(1, count + 1):
        # Each shard has its own cache, as on a machine of its own.
        out = root / f"shard-{index}"
        assert run_build(tiny_pcam, checkpoint, out, root / f"cache-{index}", "--shard", f"{index}/{count}",
                         *LEAN_BUILD_ARGS, *extra) == 0
        directories.append(out)
    return directories


# The shards here skip the sanity, stain and stability steps (conftest.LEAN_BUILD_ARGS) and are compared with the
# unsharded build that skips them too. Those steps' per-patch numbers, computed a patch at a time as in a shard,
# are compared with shared_build's by test_chunks.py.
@pytest.mark.parametrize("count", [1, 2])
def test_a_merged_report_equals_the_unsharded_one(tmp_path, tiny_pcam, checkpoint_a, lean_build, count, request):
    if count == 2:
        shards = request.getfixturevalue("two_shards")  # built as below, once for every test that reads them
    else:
        shards = _build_shards(tiny_pcam, checkpoint_a, tmp_path, count)
    manifest = json.loads((shards[0] / "shard.json").read_text())
    assert manifest["shard"] == {"index": 1, "count": count}
    assert not (shards[0] / "report.json").exists()  # a shard writes results, not a report
    code = main(["merge", *map(str, reversed(shards)), "--out", str(tmp_path / "merged"),
                 "--cache-dir", str(tmp_path / "merge-cache"), "--no-pdf", "-q"])
    assert code == 0
    assert_same_numbers(tmp_path / "merged", lean_build)
    # The merge read every per-patch result from the shards: nothing was explained again.
    methods = json.loads((tmp_path / "merged" / "report.json").read_text())["methods"]
    assert all(record["cached_patches"] == 4 for record in methods.values())


def test_shards_split_the_patches_in_turn_and_cover_each_once():
    positions = [shard_positions(10, Shard(index, 3)).tolist() for index in (1, 2, 3)]
    assert positions == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert parse_shard(" 2 / 7 ") == Shard(2, 7)


@pytest.mark.parametrize("text, message", [
    ("3", "not of the form K/N"), ("0/2", "between 1 and N"), ("3/2", "between 1 and N"), ("a/b", "not of the form"),
])
def test_bad_shard_options_are_refused(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_shard(text)


@pytest.mark.parametrize("flags, message", [
    ({"shard": "1/3", "images": 4}, "use at most 2 shards"),
    ({"shard": "1/2", "compare": "old/report.json"}, "--compare belong to 'reportgen merge'"),
    ({"shard": "1/2", "fail_if": ["accuracy<0.9"]}, "--fail-if belong to 'reportgen merge'"),
    ({"shard": "1/2", "no_cache": True}, "--no-cache cannot be used with --shard"),
])
def test_impossible_shard_builds_are_refused_before_any_work(flags, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config(flag_values=flags)


@pytest.fixture(scope="session")
def two_shards(tmp_path_factory, tiny_pcam, checkpoint_a):
    """The two shards of a build of :data:`conftest.FAST_BUILD_ARGS` and :data:`conftest.LEAN_BUILD_ARGS`, built once
    per run; tests only read them."""
    def make(root):
        root.mkdir()
        _build_shards(tiny_pcam, checkpoint_a, root, 2)

    root = made_once(tmp_path_factory, "two-shards", make)
    return [root / "shard-1", root / "shard-2"]


def _merge_error(capsys, *arguments) -> str:
    assert main(["merge", *map(str, arguments), "-q"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith("reportgen: error: ")  # one line, no traceback
    return error


def test_merge_refuses_what_is_not_one_whole_run(tmp_path, tiny_pcam, checkpoint_a, checkpoint_b, capsys, request):
    # A shard of the same patches with another seed, and one of another checkpoint, belong to other runs. They are
    # built before two_shards is asked for, which the test beside this one may still be building.
    assert run_build(tiny_pcam, checkpoint_a, tmp_path / "seed-1", tmp_path / "cache", "--shard", "2/2",
                     *LEAN_BUILD_ARGS, "--seed", "1") == 0
    assert run_build(tiny_pcam, checkpoint_b, tmp_path / "other", tmp_path / "cache", "--shard", "2/2",
                     *LEAN_BUILD_ARGS) == 0
    first, second = request.getfixturevalue("two_shards")
    out = tmp_path / "merged"
    assert "shard 2 of 2 is missing; run 'reportgen build --shard 2/2'" in _merge_error(capsys, first, "--out", out)
    assert "shard 1/2 is given twice" in _merge_error(capsys, first, first, second, "--out", out)
    assert "holds no shard.json" in _merge_error(capsys, first, tmp_path, "--out", out)
    assert "does not exist" in _merge_error(capsys, first, tmp_path / "absent", "--out", out)
    assert "option 'seed' is 1, not 0" in _merge_error(capsys, first, tmp_path / "seed-1", "--out", out)
    assert "another checkpoint (SHA-256)" in _merge_error(capsys, first, tmp_path / "other", "--out", out)
    # The merge must find the checkpoint the shards audited.
    error = _merge_error(capsys, first, second, "--out", out, "--checkpoint", checkpoint_b)
    assert "the checkpoint found for the merge is not the one the shards audited" in error
    assert not out.exists()  # nothing partial reaches the report directory


def test_a_damaged_manifest_is_one_line(tmp_path, two_shards, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(two_shards[1], broken)
    (broken / "shard.json").write_text("{not json")
    assert "cannot be read (JSONDecodeError); rerun that shard" in _merge_error(
        capsys, two_shards[0], broken, "--out", tmp_path / "merged")


def test_merge_takes_the_gates_and_the_comparison(tmp_path, two_shards, lean_build, capsys):
    code = main(["merge", *map(str, two_shards), "--out", str(tmp_path / "merged"), "--cache-dir", str(tmp_path / "c"),
                 "--compare", str(lean_build / "report.json"), "--fail-if", "accuracy<1.01", "--no-pdf", "-q"])
    assert code == 3  # the gate holds: the report was written and the run fails
    assert "gate failed: accuracy<1.01" in capsys.readouterr().err
    document = json.loads((tmp_path / "merged" / "report.json").read_text())
    assert document["comparison"]["model"]["changed"] is False
    assert all(row["deletion_auc"]["change"] == 0 for row in document["comparison"]["methods"])

