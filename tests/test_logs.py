"""What a scheduled run leaves: a log of one line per step (no progress bars when the output is a file), and
the options ``-q``, ``-v`` and ``--debug`` accepted before the command as after it."""

import subprocess
import sys

import pytest
from conftest import FAST_BUILD_ARGS

from reportgen.cli import build_parser, main


@pytest.mark.parametrize("argv, expected", [
    (["-q", "methods"], (True, False, False)),
    (["methods", "-q"], (True, False, False)),
    (["-v", "--debug", "methods"], (False, True, True)),
    (["--debug", "build", "-q"], (True, False, True)),
    (["-q", "data", "inspect", "somewhere", "-v"], (True, True, False)),
    (["methods"], (False, False, False)),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_diagnostic_options_count_on_either_side_of_the_command(argv, expected):
    args = build_parser().parse_args(argv)
    assert (args.quiet, args.verbose, args.debug) == expected


def test_quiet_before_the_command_runs_it_quietly(capsys):
    import logging

    root = logging.getLogger("reportgen")
    saved = root.handlers[:], root.level, root.propagate
    try:
        assert main(["-q", "methods"]) == 0
        assert "integrated_gradients" in capsys.readouterr().out
        assert root.level == logging.WARNING
    finally:
        root.handlers[:], root.level, root.propagate = saved


def test_a_real_process_accepts_quiet_before_the_command():
    result = subprocess.run([sys.executable, "-m", "reportgen", "-q", "methods"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "integrated_gradients" in result.stdout and result.stderr == ""


def test_an_unknown_option_before_the_command_is_still_a_usage_error(capsys):
    assert main(["--quietly", "methods"]) == 2
    assert "unrecognized arguments: --quietly" in capsys.readouterr().err


def test_a_build_logged_to_a_file_has_one_line_per_step_and_no_progress_bars(tmp_path, tiny_pcam, checkpoint_a,
                                                                             shared_build):
    log = tmp_path / "build.log"
    loud = [arg for arg in FAST_BUILD_ARGS if arg != "-q"]
    # The shared build's cache: the same build, so its results are read back (a stage logs alike either way).
    with open(log, "wb") as handle:
        code = subprocess.run(
            [sys.executable, "-m", "reportgen", "build", "--data-dir", str(tiny_pcam), "--checkpoint",
             str(checkpoint_a), "--out", str(tmp_path / "report"), "--cache-dir", str(shared_build.parent / "cache"),
             *loud],
            stdout=handle, stderr=subprocess.STDOUT, timeout=600,
        ).returncode
    text = log.read_bytes()
    assert code == 0, text.decode()
    assert b"\r" not in text
    lines = text.decode().splitlines()
    # Every stage of the build says when it is done and how long it took, as on a terminal.
    for stage in ("checkpoint", "data", "evaluation", "explain", "curves", "sanity", "stain", "render"):
        assert any(line.startswith(f"reportgen: {stage} done in ") and line.endswith(" s") for line in lines), stage
    assert all(line.startswith("reportgen: ") or line.startswith("report written to ") for line in lines), lines
