"""One render_pdf() for every PDF: HTML from our templates to PDF through WeasyPrint, fetching nothing outside.

The URL fetcher answers only `data:` URLs and our own static files (by their /static/ path); `file://`, other hosts
and everything else are refused, so a value a user typed can never make the server read a file or call out.
"""

import ctypes
import logging
import mimetypes
import os
import pickle
import signal
import sys
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


def render_pdf(template: str, *, in_child: bool = False, **context) -> bytes:
    """Render *template* with *context* to PDF bytes; *in_child*: in a child process (html_to_pdf_in_child)."""
    html = render_template(template, pdf=True, **context)
    return html_to_pdf_in_child(html) if in_child else html_to_pdf(html)


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=BASE_URL, url_fetcher=_fetcher_class()()).write_pdf()


def html_to_pdf_in_child(html: str) -> bytes:
    """html_to_pdf in a forked child that exits: WeasyPrint keeps some of what it allocates (issue #20 saw a worker
    grow by about 38 MB a report, up to a gigabyte; bench/worker_memory.py), and the child's exit hands it back."""
    import weasyprint  # noqa: F401  (imported once here, shared with every child, rather than in each)

    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: render, send back ("P" + the PDF, or "E" + the pickled exception), exit
        code = 0
        try:
            os.close(read_end)
            die_with_parent(parent)
            try:
                answer = b"P" + html_to_pdf(html)
            except Exception as exc:  # re-raised in the parent
                answer = b"E" + _pickled(exc)
            with os.fdopen(write_end, "wb") as out:
                out.write(answer)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    if answer[:1] == b"P":
        return answer[1:]
    if answer[:1] == b"E":
        raise pickle.loads(answer[1:])
    raise RuntimeError(f"the PDF renderer exited with status {os.waitstatus_to_exitcode(status)} and no answer")


def _pickled(exc: Exception) -> bytes:
    try:
        return pickle.dumps(exc)
    except Exception:
        return pickle.dumps(RuntimeError(repr(exc)[:2000]))


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this forked child when *parent* dies, even by kill -9: no orphan lives on."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
