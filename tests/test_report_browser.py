"""The HTML in headless Chromium: no request leaves the file, every image decodes, it renders.

Chromium is started with a proxy that is a local listener recording every
connection.  The browser's own background traffic (component updates, sign-in)
also goes through it, so each test first records a blank page's traffic with the
same flags and compares hosts; a control page with one external image shows the
listener does see page requests.
"""

import re
import shutil
import socket
import subprocess
import threading

import numpy as np
import pytest
from gold.fixture import make_document, make_figures
from PIL import Image

from reportgen.judgement import summarise_findings
from reportgen.report.render import render_html

# Test-only script, added to a copy of the report (whose own script is the gallery filter).
DECODE_CHECK = ("<script>window.addEventListener('load', () => { const all = [...document.images];"
                " const ok = all.filter(i => i.complete && i.naturalWidth > 0).length;"
                " const fetched = performance.getEntriesByType('resource').map(e => e.name).join(' ');"
                " document.body.setAttribute('data-decoded', ok + '/' + all.length);"
                " document.body.setAttribute('data-fetched', fetched); });</script>")


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("chromium is not installed; run the test set-up (`make test` installs chromium and poppler-utils)")


class ConnectionRecorder:
    """A TCP listener on 127.0.0.1 that records the first line of every connection (the proxied request)."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1.0)
                try:
                    self.requests.append(connection.recv(512).decode("latin-1").split("\r\n")[0])
                except OSError:
                    self.requests.append("<no request line>")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self.server.close()

    def hosts(self) -> set[str]:
        """Target hosts of the recorded requests (``CONNECT host:443`` or ``GET http://host/...``)."""
        found = set()
        for line in self.requests:
            match = re.match(r"\S+ (?:https?://)?([^/:\s]+)", line)
            found.add(match.group(1) if match else line)
        return found


def run_chromium(url: str, profile, *extra: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    with ConnectionRecorder() as recorder:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
                 "--disable-extensions", "--no-pings", "--disable-domain-reliability", "--disable-breakpad",
                 f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{recorder.port}",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--virtual-time-budget=5000", *extra]
        completed = subprocess.run([chromium(), *flags, url], capture_output=True, text=True, timeout=120)
    return completed, recorder.hosts()


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    document = make_document(3)
    document["summary"] = summarise_findings(document)
    folder = tmp_path_factory.mktemp("browser")
    html = render_html(document, make_figures(3))
    (folder / "report.html").write_text(html, encoding="utf-8")
    (folder / "checked.html").write_text(html.replace("</body>", DECODE_CHECK + "</body>"), encoding="utf-8")
    (folder / "blank.html").write_text("<html><body>blank</body></html>", encoding="utf-8")
    (folder / "control.html").write_text('<html><body><img src="http://leak.example/x.png" alt="x"></body></html>',
                                         encoding="utf-8")
    return folder


def test_no_request_leaves_the_file_and_every_image_decodes(report_file, tmp_path):
    _, background = run_chromium((report_file / "blank.html").as_uri(), tmp_path / "p0", "--dump-dom")
    _, control = run_chromium((report_file / "control.html").as_uri(), tmp_path / "p1", "--dump-dom")
    assert "leak.example" in control, "the recording proxy did not see a page request; the check is broken"
    completed, hosts = run_chromium((report_file / "checked.html").as_uri(), tmp_path / "p2", "--dump-dom")
    if not hosts <= background | control - {"leak.example"}:
        # Chromium itself sometimes calls its own services (e.g. accounts.google.com) at start-up: a host is the
        # report's only if it is asked for again on a second opening and on no blank page opened beside it.
        _, again = run_chromium((report_file / "checked.html").as_uri(), tmp_path / "p3", "--dump-dom")
        _, blank_again = run_chromium((report_file / "blank.html").as_uri(), tmp_path / "p4", "--dump-dom")
        hosts = (hosts & again) - blank_again
    assert hosts <= background | control - {"leak.example"}, \
        f"the report made requests to {sorted(hosts - background)}"
    body = re.search(r"<body[^>]*>", completed.stdout).group(0)
    decoded = re.search(r'data-decoded="(\d+)/(\d+)"', body)
    assert decoded, f"the load check did not run: {completed.stderr[-500:]}"
    assert decoded.group(1) == decoded.group(2) and int(decoded.group(2)) == 3 * (1 + 2 * 3) + 9
    assert re.search(r'data-fetched=""', body), body


def test_screenshot_is_not_blank(report_file, tmp_path):
    screenshot = tmp_path / "report.png"
    run_chromium((report_file / "report.html").as_uri(), tmp_path / "profile", f"--screenshot={screenshot}",
                 "--window-size=1200,1600")
    assert screenshot.exists(), "chromium wrote no screenshot"
    pixels = np.asarray(Image.open(screenshot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels.std() > 10
