"""``reportgen build --executor ray``: shards as tasks of a local Ray instance, merged into the unsharded report."""

import pytest
import ray.exceptions
from conftest import LEAN_BUILD_ARGS, run_build
from test_shards import assert_same_numbers

from reportgen.errors import ConfigError, ReportgenError
from reportgen.pipeline.ray_executor import shard_failure, write_shard_files


def test_a_build_on_two_ray_workers_equals_the_unsharded_one(tmp_path, tiny_pcam, checkpoint_a, lean_build, capsys):
    # Without the sanity, stain and stability steps, as lean_build: the question is how the shards travel.
    code = run_build(tiny_pcam, checkpoint_a, tmp_path / "report", tmp_path / "cache", *LEAN_BUILD_ARGS,
                     "--executor", "ray", "--shards", "2")
    assert code == 0, capsys.readouterr().err
    assert_same_numbers(tmp_path / "report", lean_build)
    # The shards were written beside the report only while merging.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cache", "report"]


def test_a_failed_shard_is_one_line_naming_it():
    wrapped = ray.exceptions.RayTaskError("shard_files", "Traceback (most recent call last): ...",
                                          ConfigError("data directory /x does not exist")).as_instanceof_cause()
    error = shard_failure(wrapped, 2, 4)
    assert str(error) == "shard 2/4: data directory /x does not exist" and error.exit_code == 2
    died = shard_failure(ray.exceptions.WorkerCrashedError(), 3, 4)
    assert isinstance(died, ReportgenError) and str(died).startswith("shard 3/4: its worker died 3 times")
    other = shard_failure(ray.exceptions.RayTaskError("shard_files", "Traceback ...\nValueError: odd", ValueError("odd")),
                          1, 2)
    assert str(other) == "shard 1/2 failed in its Ray worker: odd; no report was written"


def test_shard_files_stay_inside_their_directory(tmp_path):
    write_shard_files({"shard.json": b"{}", "entries/ab/ab.npz": b"x"}, tmp_path / "s")
    assert (tmp_path / "s" / "entries" / "ab" / "ab.npz").read_bytes() == b"x"
    with pytest.raises(ConfigError, match="outside its directory"):
        write_shard_files({"../evil": b"x"}, tmp_path / "t")
    assert not (tmp_path / "evil").exists()
