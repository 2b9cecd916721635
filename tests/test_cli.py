"""The command-line surface: help for every command, README coverage, usage errors."""

from pathlib import Path

import pytest

from reportgen.cli import build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"
COMMANDS = [["build"], ["merge"], ["train"], ["synth"], ["data", "inspect"], ["methods"]]


def _all_commands(parser=None, prefix=()):
    parser = parser or build_parser()
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for name, sub in action.choices.items():
            path = (*prefix, name)
            if sub._subparsers:
                yield from _all_commands(sub, path)
            else:
                yield list(path)


def test_every_command_is_listed_here():
    assert sorted(map(tuple, _all_commands())) == sorted(map(tuple, COMMANDS))


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command, capsys):
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "usage: reportgen " + " ".join(command) in text
    assert len(text.splitlines()) > 3


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_appears_in_the_readme(command):
    assert f"reportgen {' '.join(command)}" in README.read_text()


def test_unknown_flag_is_a_one_line_usage_error(capsys):
    assert main(["build", "--imagez", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --imagez 3" in err


def test_missing_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "name a command" in capsys.readouterr().err


def test_methods_lists_the_registry(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in ("integrated_gradients", "grad_cam", "lime", "saliency", "kernel_shap"):
        assert name in out


def test_synth_then_inspect(tmp_path, capsys):
    out = tmp_path / "synthetic"
    assert main(["synth", "--out", str(out), "--seed", "2", "--train", "16", "--valid", "8", "--test", "8", "-q"]) == 0
    assert len(list(out.glob("camelyonpatch_level_2_split_*_x.h5"))) == 3
    capsys.readouterr()
    assert main(["data", "inspect", str(out)]) == 0
    report = capsys.readouterr().out
    for split in ("train", "valid", "test"):
        assert split in report
    assert "mask" in report.lower()


@pytest.mark.parametrize("removed, code, line", [
    ("valid", 2, "    valid (explained by default): MISSING"),
    ("train", 0, "    train (to train, when no --checkpoint is given): MISSING"),
])
def test_inspect_says_which_splits_a_build_needs_with_builds_exit_code(tmp_path, tiny_pcam, checkpoint_a, capsys,
                                                                       removed, code, line):
    import shutil

    data = tmp_path / "pcam"
    shutil.copytree(tiny_pcam, data)
    for path in data.glob(f"*_split_{removed}_*"):
        path.unlink()
    assert main(["data", "inspect", str(data)]) == code
    captured = capsys.readouterr()
    assert line in captured.out.splitlines()
    if code:
        assert captured.err.splitlines() == [
            f"reportgen: error: {data}: split 'valid' is missing (no camelyonpatch_level_2_split_valid_x.h5 or "
            ".h5.gz), and 'reportgen build' explains it by default; add its files or choose another split with --split"]
        assert main(["build", "--data-dir", str(data), "--checkpoint", str(checkpoint_a), "--out",
                     str(tmp_path / "out"), "-q"]) == code  # the build refuses the same directory the same way
        assert "split 'valid' is missing" in capsys.readouterr().err
    else:
        assert captured.err == ""
    assert main(["data", "inspect", str(data), "--split", "test"]) == 0


def test_inspect_of_a_missing_directory_is_one_line(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing" in err


def test_sigterm_at_any_point_of_a_command_exits_130(monkeypatch, capsys):
    """SIGTERM before the build's own output handling (e.g. while torch imports) is an interruption too."""
    import os
    import signal
    import time

    from reportgen import cli

    def terminated_early(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this sleep
        raise AssertionError("SIGTERM did not interrupt the command")

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(cli, "_run_build", terminated_early)
    assert cli.main(["build", "--images", "2"]) == cli.EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before


def test_command_line_log_lines_have_one_format(capsys):
    import logging

    root = logging.getLogger("reportgen")
    saved = root.handlers[:], root.level, root.propagate
    try:
        main(["methods", "-q"])  # configures logging as every command does, at warning level for -q
        capsys.readouterr()
        logging.getLogger("reportgen.report.pdf").warning("refused a URL")
        logging.getLogger("reportgen.report.pdf").info("hidden")
        assert capsys.readouterr().err == "reportgen: refused a URL\n"
        assert root.propagate is False
    finally:
        root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]
