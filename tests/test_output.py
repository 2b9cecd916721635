"""Atomic replacement of the report directory, the run lock, and refusal of unsafe --out paths."""

import os
import signal

import pytest

from reportgen.errors import ConfigError
from reportgen.pipeline.output import atomic_output_dir, check_output_dir, output_lock


def _previous_report(out):
    out.mkdir()
    (out / "report.json").write_text('{"old": true}')
    (out / "report.html").write_text("old")
    return {p.name: p.read_bytes() for p in out.iterdir()}


def test_success_replaces_previous_report(tmp_path):
    out = tmp_path / "report"
    _previous_report(out)
    with atomic_output_dir(out) as staging:
        (staging / "report.json").write_text('{"new": true}')
    assert (out / "report.json").read_text() == '{"new": true}'
    assert not (out / "report.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temporary or lock left


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_leaves_previous_report_byte_identical(tmp_path, failure):
    out = tmp_path / "report"
    before = _previous_report(out)
    with pytest.raises(type(failure)):
        with atomic_output_dir(out) as staging:
            (staging / "report.json").write_text("half")
            raise failure
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_sigterm_is_an_interrupt_that_cleans_up(tmp_path):
    out = tmp_path / "report"
    before = _previous_report(out)
    with pytest.raises(KeyboardInterrupt):
        with atomic_output_dir(out) as staging:
            (staging / "partial").write_text("x")
            os.kill(os.getpid(), signal.SIGTERM)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    out = tmp_path / "report"
    with output_lock(out):
        with pytest.raises(ConfigError, match=r"another reportgen run \(pid \d+\) is writing"):
            with output_lock(out):
                pass
    with output_lock(out):  # released afterwards
        pass


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "report"
    (tmp_path / ".report.lock").write_text("999999999")
    with atomic_output_dir(out) as staging:
        (staging / "report.json").write_text("{}")
    assert (out / "report.json").exists()


def test_refuses_to_replace_a_directory_that_is_not_a_report(tmp_path):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigError, match="holds no reportgen report"):
        check_output_dir(precious)
    file_out = tmp_path / "file.txt"
    file_out.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_output_dir(file_out)
