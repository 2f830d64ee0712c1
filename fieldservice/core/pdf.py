"""One render_pdf() for every PDF: HTML from our templates to PDF through WeasyPrint, fetching nothing outside.

The URL fetcher answers only `data:` URLs and our own static files (by their /static/ path); `file://`, other hosts
and everything else are refused, so a value a user typed can never make the server read a file or call out.
"""

import logging
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template

log = logging.getLogger("fieldservice.pdf")

# The base URL our templates' relative links resolve against inside the PDF renderer; never fetched from the network.
BASE_URL = "https://fieldservice.invalid/"


class RefusedURL(ValueError):
    pass


def _static_roots() -> list[Path]:
    roots = []
    for blueprint in current_app.blueprints.values():
        if blueprint.static_folder and blueprint.static_url_path == "/static":
            roots.append(Path(blueprint.static_folder).resolve())
    return roots


def _fetcher_class():
    from weasyprint import URLFetcher
    from weasyprint.urls import URLFetcherResponse

    class SafeFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}/" == BASE_URL and parts.path.startswith("/static/"):
                relative = unquote(parts.path[len("/static/") :])
                for root in _static_roots():
                    candidate = (root / relative).resolve()
                    if candidate.is_relative_to(root) and candidate.is_file():
                        mime = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
                        return URLFetcherResponse(url, candidate.read_bytes(), {"Content-Type": mime})
            log.warning("refused to fetch %s while rendering a PDF", url[:200])
            raise RefusedURL(f"refused URL in PDF: {url[:200]}")

    return SafeFetcher


def render_pdf(template: str, **context) -> bytes:
    """Render *template* with *context* to PDF bytes."""
    html = render_template(template, pdf=True, **context)
    return html_to_pdf(html)


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=BASE_URL, url_fetcher=_fetcher_class()()).write_pdf()
