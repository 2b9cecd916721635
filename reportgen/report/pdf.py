"""HTML to PDF through WeasyPrint, with every URL other than ``data:`` refused.

The report is self-contained, so the PDF renderer has no reason to open a file or
a socket; refusing everything else keeps a hostile value in the document (a
model name, a path) from making the renderer read local files or reach a network.

The report's images are ``data:`` URIs in ``src`` attributes, megabytes of
base64 that WeasyPrint's pure-Python HTML parser would otherwise scan character
by character.  Before parsing they are swapped for short in-memory references
(``reportgen-embedded:N``) that the fetcher below serves from the decoded bytes;
the images are exactly the ones in the HTML, nothing is read from anywhere else.

Importing WeasyPrint takes most of a second.  The command line therefore starts
a :class:`PdfWorker`, a second interpreter that imports it while the build
imports torch (two cores, no shared interpreter lock), and :func:`write_pdf`
hands it the HTML.  The worker is only a head start: if it cannot start, fails
or dies, the PDF is rendered in this process as without it, errors included.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

logger = logging.getLogger(__name__)

EMBEDDED_SCHEME = "reportgen-embedded"
# Only whole src attribute values: user text is escaped, so it can never contain ' src="'.
_SRC_DATA_URI = re.compile(r'(?<= src=")data:(image/(?:png|svg\+xml));base64,([A-Za-z0-9+/=]+)(?=")')


def hoist_data_uris(html: str) -> tuple[str, dict[str, tuple[str, bytes]]]:
    """Replace base64 image URIs in ``src`` attributes with ``reportgen-embedded:N`` references.

    Parameters
    ----------
    html : report HTML.

    Returns
    -------
    (str, dict)
        The HTML with short references, and reference -> (MIME type, image bytes).
        The same URI twice gets the same reference, so WeasyPrint decodes it once.
    """
    by_uri: dict[str, str] = {}
    images: dict[str, tuple[str, bytes]] = {}

    def replace(match: re.Match) -> str:
        uri = match.group(0)
        if uri not in by_uri:
            by_uri[uri] = f"{EMBEDDED_SCHEME}:{len(by_uri)}"
            images[by_uri[uri]] = (match.group(1), base64.b64decode(match.group(2)))
        return by_uri[uri]

    return _SRC_DATA_URI.sub(replace, html), images


def _data_only_fetcher(refused: list[str], embedded: dict[str, tuple[str, bytes]]):
    """A WeasyPrint URL fetcher that serves ``data:`` URIs and the hoisted images, and records every other URL."""
    from weasyprint import urls

    def refuse(url: str) -> None:
        refused.append(url)
        logger.warning("refused to fetch %s while rendering the PDF: the report must be self-contained", url[:80])
        raise ValueError(f"reportgen renders self-contained reports only; refused {url[:80]}")

    if hasattr(urls, "URLFetcher"):  # WeasyPrint >= 66: fetchers are URLFetcher subclasses
        class DataOnlyFetcher(urls.URLFetcher):
            def fetch(self, url, headers=None):
                if url in embedded:
                    mime_type, data = embedded[url]
                    return urls.URLFetcherResponse(url, data, {"Content-Type": mime_type})
                if not url.startswith("data:"):
                    refuse(url)
                return super().fetch(url, headers)

        return DataOnlyFetcher(allowed_protocols=("data",))

    def fetch(url: str):
        if url in embedded:
            mime_type, data = embedded[url]
            return {"string": data, "mime_type": mime_type, "redirected_url": url}
        if not url.startswith("data:"):
            refuse(url)
        return urls.default_url_fetcher(url)

    return fetch


def write_pdf(html: str, path: Path) -> list[str]:
    """Render HTML to an A4 PDF (page size and numbers come from the report's CSS).

    Parameters
    ----------
    html : the complete, self-contained report HTML.
    path : where to write the PDF.

    Returns
    -------
    list of str
        URLs the renderer asked for and was refused (empty for a correct report).
    """
    worker = _take_worker()
    if worker is not None:
        refused = worker.render(html, path)
        if refused is not None:
            return refused
        logger.debug("the PDF worker did not render the PDF; rendering in this process")
    from weasyprint import HTML

    refused: list[str] = []
    short_html, embedded = hoist_data_uris(html)
    # No base_url: relative references then have nothing to resolve against.
    HTML(string=short_html, url_fetcher=_data_only_fetcher(refused, embedded)).write_pdf(str(path))
    return refused


# --------------------------------------------------------------------------- background worker

_worker: PdfWorker | None = None


def _take_worker() -> PdfWorker | None:
    """The started worker, once: a second PDF in the same process renders in-process."""
    global _worker
    worker, _worker = _worker, None
    return worker


class PdfWorker:
    """A child interpreter that imports WeasyPrint at once, then renders one PDF sent to it.

    Protocol: the parent writes one JSON line ``{"pdf": path}`` and the HTML
    (UTF-8) to the child's stdin and closes it; the child writes one JSON line
    ``{"refused": [...]}`` (or ``{"error": "..."}``, exit code 1) to stdout.
    Closing stdin without a request makes the child exit.  Its log lines go to
    the same stderr, formatted like the parent's.
    """

    def __init__(self, process: subprocess.Popen):
        self.process = process

    @classmethod
    def start(cls, log_level: int) -> PdfWorker | None:
        """Start the child; ``None`` when it cannot be started (then nothing changes)."""
        import reportgen

        # The child imports this very reportgen, wherever it lives (source tree, wheel).
        package_parent = str(Path(reportgen.__file__).resolve().parent.parent)
        # Ctrl-C reaches the whole process group: the child ignores it and the parent, which
        # reports the interruption, stops it (close()); so no second traceback appears.
        code = ("import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); sys.path.insert(0, sys.argv[1]); "
                "from reportgen.report.pdf import serve; raise SystemExit(serve(int(sys.argv[2])))")
        try:
            process = subprocess.Popen([sys.executable, "-c", code, package_parent, str(log_level)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as error:
            logger.debug("could not start the PDF worker (%s); the PDF will be rendered in this process", error)
            return None
        return cls(process)

    def render(self, html: str, path: Path) -> list[str] | None:
        """Render ``html`` to ``path`` in the child; the refused URLs, or ``None`` if the child failed."""
        request = json.dumps({"pdf": str(Path(path).resolve())}).encode("utf-8") + b"\n" + html.encode("utf-8")
        try:
            output, _ = self.process.communicate(request)
        except (OSError, ValueError) as error:  # a child that died before reading: broken pipe
            logger.debug("PDF worker failed: %s", error)
            self.close()
            return None
        try:
            reply = json.loads(output.decode("utf-8").strip().splitlines()[-1])
        except (ValueError, IndexError, UnicodeDecodeError):
            reply = {"error": f"no reply (exit code {self.process.returncode})"}
        if self.process.returncode != 0 or "refused" not in reply:
            logger.debug("PDF worker failed: %s", reply.get("error"))
            return None
        return [str(url) for url in reply["refused"]]

    def close(self) -> None:
        """Stop the child if it is still running (an unused worker, or a build that failed)."""
        if self.process.returncode is not None:
            return
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(OSError, ValueError, subprocess.SubprocessError):
            self.process.communicate(timeout=10)


@contextlib.contextmanager
def background_pdf_worker(enabled: bool, *, log_level: int = logging.WARNING) -> Iterator[None]:
    """Within the block, :func:`write_pdf` renders in a worker started on entry.

    Parameters
    ----------
    enabled : start the worker; pass whether a PDF will be written.
    log_level : level of the ``reportgen`` log lines in the worker.

    Nothing is started when WeasyPrint is already imported here (no import to
    overlap), and the worker is stopped on exit whether or not it was used.
    """
    global _worker
    if not enabled or "weasyprint" in sys.modules or _worker is not None:
        yield
        return
    worker = PdfWorker.start(log_level)
    _worker = worker
    try:
        yield
    finally:
        if _worker is worker:
            _worker = None
        if worker is not None:
            worker.close()


def serve(log_level: int) -> int:
    """The worker's main: import WeasyPrint, then render the one request on stdin (see :class:`PdfWorker`)."""
    from reportgen.logsetup import log_to_stderr

    log_to_stderr(log_level)
    import weasyprint  # noqa: F401 - the head start this process exists for

    # The imported modules live until exit: keep the collections WeasyPrint's many
    # small objects trigger, and the ones at shutdown, from walking them.
    gc.freeze()
    header = sys.stdin.buffer.readline()
    if not header:
        return 0  # the build needed no PDF after all
    try:
        path = Path(json.loads(header)["pdf"])
        html = sys.stdin.buffer.read().decode("utf-8")
        refused = write_pdf(html, path)
    except Exception as error:  # noqa: BLE001 - reported to the parent, which renders the PDF itself
        sys.stdout.write(json.dumps({"error": f"{type(error).__name__}: {error}"}) + "\n")
        return 1
    sys.stdout.write(json.dumps({"refused": refused}) + "\n")
    gc.freeze()  # the process exits now: skip the shutdown collections
    return 0
