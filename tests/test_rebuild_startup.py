"""Start-up and shut-down of a build: the garbage collector around the big imports, and the PDF worker.

The PDF worker is a second interpreter that imports WeasyPrint while the build
imports torch; whatever happens to it, the PDF is the same and errors are the
in-process ones.
"""

import gc
import subprocess
import sys
import types

import pytest

from reportgen import cli
from reportgen.report import pdf
from reportgen.report.pdf import PdfWorker, background_pdf_worker, write_pdf

HTML = "<html><body><h1>Worker</h1><p>One page.</p></body></html>"


@pytest.fixture
def probe_pipeline(monkeypatch):
    """A stand-in ``reportgen.pipeline`` that records the collector's state when build_report is imported."""
    seen = []

    class Probe(types.ModuleType):
        @property
        def build_report(self):
            seen.append({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()})
            return "build_report"

    monkeypatch.setitem(sys.modules, "reportgen.pipeline", Probe("reportgen.pipeline"))
    return seen


def test_pipeline_import_runs_with_the_collector_paused_then_frozen_for_the_build(probe_pipeline):
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with cli._pipeline_imported() as build_report:
        assert build_report == "build_report"
        assert probe_pipeline == [{"enabled": False, "frozen": 0}]
        assert gc.isenabled()  # collection resumes for the build
        assert gc.get_freeze_count() > 0  # but skips what the import left alive
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_pipeline_import_restores_the_collector_after_a_failure(monkeypatch):
    class Broken(types.ModuleType):
        @property
        def build_report(self):
            raise ImportError("broken install")

    monkeypatch.setitem(sys.modules, "reportgen.pipeline", Broken("reportgen.pipeline"))
    with pytest.raises(ImportError):
        with cli._pipeline_imported():
            pass
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_pipeline_import_leaves_a_callers_freeze_alone(probe_pipeline):
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with cli._pipeline_imported():
            pass
        assert gc.get_freeze_count() == frozen  # not unfrozen under the caller
    finally:
        gc.unfreeze()


def test_collector_is_left_disabled_by_nobody_when_it_was_off(probe_pipeline):
    gc.disable()
    try:
        with cli._pipeline_imported():
            assert not gc.isenabled()
    finally:
        gc.enable()


def test_build_registers_the_exit_freeze_once(tmp_path, capsys, monkeypatch):
    registry = []  # atexit's semantics: register appends, unregister removes every copy

    def unregister(function):
        registry[:] = [g for g in registry if g is not function]

    monkeypatch.setattr(cli, "atexit", types.SimpleNamespace(register=registry.append, unregister=unregister))
    for _ in range(3):  # an unknown method fails after the imports, before any work
        assert cli.main(["build", "--methods", "no_such_method", "--no-pdf", "--out", str(tmp_path / "r"), "-q"]) == 2
    assert registry == [cli._freeze_at_exit]
    assert "no_such_method" in capsys.readouterr().err


def test_exit_freeze_runs_before_earlier_exit_callbacks():
    # atexit runs callbacks last-in first-out: registered after the others, the freeze comes first,
    # and the interpreter's shutdown collections (after every callback) skip the frozen heap.
    code = ("import atexit, gc; from reportgen import cli; "
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0)); "
            "atexit.register(cli._freeze_at_exit)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "frozen at exit: True"


def test_worker_renders_the_pdf_and_reports_refused_urls(tmp_path, monkeypatch):
    worker = PdfWorker.start(30)
    assert worker is not None
    html = HTML.replace("</body>", '<img src="file:///etc/hostname"></body>')
    refused = worker.render(html, tmp_path / "worker.pdf")
    assert refused == ["file:///etc/hostname"]
    assert (tmp_path / "worker.pdf").read_bytes().startswith(b"%PDF")
    assert worker.process.returncode == 0
    in_process = write_pdf(html, tmp_path / "here.pdf")
    assert in_process == refused


def test_write_pdf_hands_the_html_to_a_started_worker_once(tmp_path, monkeypatch):
    import weasyprint

    def not_here(*args, **kwargs):
        raise AssertionError("rendered in the parent process")

    monkeypatch.setattr(weasyprint, "HTML", not_here)
    monkeypatch.setattr(pdf, "_worker", PdfWorker.start(30))
    assert write_pdf(HTML, tmp_path / "a.pdf") == []
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert pdf._worker is None  # used up: a second PDF renders in-process
    with pytest.raises(AssertionError, match="parent process"):
        write_pdf(HTML, tmp_path / "b.pdf")


def test_a_dead_worker_falls_back_to_rendering_in_process(tmp_path, monkeypatch):
    worker = PdfWorker.start(30)
    worker.process.kill()
    worker.process.wait()
    monkeypatch.setattr(pdf, "_worker", worker)
    assert write_pdf(HTML, tmp_path / "fallback.pdf") == []
    assert (tmp_path / "fallback.pdf").read_bytes().startswith(b"%PDF")


def test_a_failing_worker_falls_back_and_in_process_errors_surface(tmp_path, monkeypatch):
    missing = tmp_path / "no such directory" / "report.pdf"
    monkeypatch.setattr(pdf, "_worker", PdfWorker.start(30))
    with pytest.raises(OSError):  # the worker failed the same way; the parent's own error is raised
        write_pdf(HTML, missing)
    assert pdf._worker is None


def test_background_worker_starts_only_when_weasyprint_is_not_imported(monkeypatch):
    import weasyprint  # noqa: F401

    with background_pdf_worker(True):
        assert pdf._worker is None  # the import is done: nothing to overlap
    monkeypatch.delitem(sys.modules, "weasyprint")
    with background_pdf_worker(False):
        assert pdf._worker is None  # no PDF: no worker
    with background_pdf_worker(True):
        worker = pdf._worker
        assert isinstance(worker, PdfWorker) and worker.process.poll() is None
    assert pdf._worker is None
    assert worker.process.returncode is not None  # an unused worker is stopped on exit


def test_worker_exits_quietly_when_no_pdf_is_requested():
    worker = PdfWorker.start(30)
    output, _ = worker.process.communicate(b"", timeout=120)
    assert worker.process.returncode == 0 and output == b""


def test_worker_and_command_line_log_lines_share_one_format(capsys):
    import logging

    from reportgen.logsetup import log_to_stderr

    root = logging.getLogger("reportgen")
    saved = root.handlers[:], root.level, root.propagate
    try:
        log_to_stderr(logging.INFO)
        logging.getLogger("reportgen.report.pdf").info("rendered")
        logging.getLogger("reportgen.report.pdf").debug("hidden")
        assert capsys.readouterr().err == "reportgen: rendered\n"
        assert root.propagate is False
    finally:
        root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]


def test_heap_frozen_freezes_for_the_block_and_leaves_an_outer_freeze_alone():
    from reportgen.heap import heap_frozen

    assert gc.get_freeze_count() == 0
    with heap_frozen():
        outer = gc.get_freeze_count()
        assert outer > 0
        with heap_frozen():
            assert gc.get_freeze_count() == outer
        assert gc.get_freeze_count() == outer  # the inner block did not unfreeze the outer one
    assert gc.get_freeze_count() == 0
