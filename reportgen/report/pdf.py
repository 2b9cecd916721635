"""HTML to PDF through WeasyPrint, with every URL other than ``data:`` refused.

The report is self-contained, so the PDF renderer has no reason to open a file or
a socket; refusing everything else keeps a hostile value in the document (a
model name, a path) from making the renderer read local files or reach a network.

The report's images are ``data:`` URIs in ``src`` attributes, megabytes of
base64 that WeasyPrint's pure-Python HTML parser would otherwise scan character
by character.  Before parsing they are swapped for short in-memory references
(``reportgen-embedded:N``) that the fetcher below serves from the decoded bytes;
the images are exactly the ones in the HTML, nothing is read from anywhere else.
"""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path

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
    # Imported here, not at the top: a build without a PDF then never pays WeasyPrint's import (most of a second).
    from weasyprint import HTML

    refused: list[str] = []
    short_html, embedded = hoist_data_uris(html)
    # No base_url: relative references then have nothing to resolve against.
    HTML(string=short_html, url_fetcher=_data_only_fetcher(refused, embedded)).write_pdf(str(path))
    return refused
