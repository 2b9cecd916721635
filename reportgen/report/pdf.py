"""HTML to PDF through WeasyPrint, with every URL other than ``data:`` refused.

The report is self-contained, so the PDF renderer has no reason to open a file or
a socket; refusing everything else keeps a hostile value in the document (a
model name, a path) from making the renderer read local files or reach a network.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def _data_only_fetcher(refused: list[str]):
    """A WeasyPrint URL fetcher that serves ``data:`` URIs and records every other URL it refuses."""
    from weasyprint import urls

    def refuse(url: str) -> None:
        refused.append(url)
        logger.warning("refused to fetch %s while rendering the PDF: the report must be self-contained", url[:80])
        raise ValueError(f"reportgen renders self-contained reports only; refused {url[:80]}")

    if hasattr(urls, "URLFetcher"):  # WeasyPrint >= 66: fetchers are URLFetcher subclasses
        class DataOnlyFetcher(urls.URLFetcher):
            def fetch(self, url, headers=None):
                if not url.startswith("data:"):
                    refuse(url)
                return super().fetch(url, headers)

        return DataOnlyFetcher(allowed_protocols=("data",))

    def fetch(url: str):
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
    from weasyprint import HTML

    refused: list[str] = []
    # No base_url: relative references then have nothing to resolve against.
    HTML(string=html, url_fetcher=_data_only_fetcher(refused)).write_pdf(str(path))
    return refused
