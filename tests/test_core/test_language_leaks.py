"""No English and no raw codes on a Chinese screen: every console page, for every role, on the demo data.

The crawl logs in as each demo user in zh_Hans, follows every link of the console (a few pages of each kind), and
reads the text a person sees: element text and the placeholder, title, alt and aria-label attributes. What is shown
on purpose as it is, is marked so in the HTML: `translate="no"` (usernames, e-mail addresses, links, codes the user
types) or `lang="en"` (an English name kept beside the Chinese one), and code, kbd and pre elements.
A Latin word anywhere else is a leak, unless it is on the short allow-list below.
"""

import re
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse

import pytest

from fieldservice.cli import DEMO_LOGINS, seed_all

# Words a Chinese reader expects as they are: the product's name, standard abbreviations, brand names. Model and
# part numbers (EEV-20, GMV-H180WL) and acronyms in capitals are not words and are never flagged.
ALLOWED = {
    "fieldservice",  # the product's name, in the page title
    "Webhook",  # the integration's standard name (Webhook 集成)
    "Excel",  # the spreadsheet a customer list comes from
    "customer_id",  # CSV column headers, on the import page that documents them
    "customer_phone",
}

# A Latin word: letters (and underscores, to catch snake_case codes) with at least one lower-case letter, not part
# of an e-mail address, a path, a URL or a model number.
WORD = re.compile(r"(?<![\w@./:-])[A-Za-z][A-Za-z_]*[a-z_][A-Za-z_]*(?![\w@/:-])")
URL = re.compile(r"https?://\S+")
SKIPPED_TAGS = {"script", "style", "code", "kbd", "pre", "samp"}
VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "base", "wbr"}
ATTRIBUTES = ("placeholder", "title", "alt", "aria-label")
PAGES_PER_KIND = 2
PAGES_PER_ROLE = 160


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.stylesheets: list[str] = []
        self.texts: list[str] = []
        self._open: list[tuple[str, bool]] = []

    def _skipping(self) -> bool:
        return any(skip for _, skip in self._open)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "link" and a.get("rel") == "stylesheet":
            self.stylesheets.append(a.get("href", ""))
        skip = tag in SKIPPED_TAGS or a.get("translate") == "no" or (a.get("lang") or "").startswith("en")
        if not skip and not self._skipping():
            self.texts += [a[name] for name in ATTRIBUTES if a.get(name)]
        if tag not in VOID:
            self._open.append((tag, skip))

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                return

    def handle_data(self, data):
        if data.strip() and not self._skipping():
            self.texts.append(data.strip())


def _kind(path: str) -> str:
    return re.sub(r"\d+", "N", path)


def leaks_in(html: str) -> tuple[list[str], _Page]:
    """The leaked words of one page, and the page read."""
    page = _Page()
    page.feed(html)
    words = [w for text in page.texts for w in WORD.findall(URL.sub(" ", text)) if w not in ALLOWED]
    return words, page


def crawl(client, start: str = "/home") -> tuple[dict[str, list[str]], list[str]]:
    """Every page reachable from *start* (a few of each kind): {path: leaked words}, and the pages that failed:
    a server error, or a console page without the shared stylesheet (it once rendered a page unstyled)."""
    leaks: dict[str, list[str]] = {}
    failed: list[str] = []
    seen: set[str] = set()
    kinds: Counter = Counter()
    todo = [start]
    while todo and len(seen) < PAGES_PER_ROLE:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        if response.status_code >= 500:
            failed.append(path)
        if response.status_code in (301, 302, 303):
            todo.append(urlparse(response.headers["Location"]).path)
            continue
        if "text/html" not in response.content_type:
            continue
        words, page = leaks_in(response.get_data(as_text=True))
        if words:
            leaks[path] = words
        if not any(href.endswith("/static/css/app.css") for href in page.stylesheets):
            failed.append(f"{path} (no stylesheet)")
        for link in page.links:
            url = urlparse(urljoin(path, link))
            if url.netloc or not url.path.startswith("/") or url.path.startswith(("/api/", "/static/", "/logout")):
                continue
            target = url.path + (f"?{url.query}" if url.query and "page=" not in url.query else "")
            kind = _kind(url.path)
            if target not in seen and kinds[kind] < PAGES_PER_KIND:
                kinds[kind] += 1
                todo.append(target)
    return leaks, failed


def test_the_leak_finder_finds_english_and_codes_and_spares_marked_data():
    html = """<p>服务请求 Not cooling</p><td>no_cooling</td><td translate="no">admin</td><td lang="en">Leaking</td>
    <input placeholder="Search"><code>status_changed</code><p>型号 GMV-H180WL，EEV-20，SLA，联系 a.b@example.cn</p>
    <p>报告：http://127.0.0.1:5000/r/abc</p>"""
    words, _ = leaks_in(html)
    assert sorted(words) == ["Not", "Search", "cooling", "no_cooling"]


@pytest.mark.parametrize("username,password", [(u, p) for u, p, _label in DEMO_LOGINS])
def test_no_english_or_codes_on_the_chinese_console(app, db, username, password):
    seed_all()
    client = app.test_client()
    response = client.post("/login?lang=zh_Hans", data={"username": username, "password": password})
    assert response.status_code == 302
    leaks, failed = crawl(client)
    assert not failed, f"server errors or unstyled pages: {failed}"
    report = "; ".join(f"{path}: {sorted(set(words))[:8]}" for path, words in sorted(leaks.items())[:25])
    assert not leaks, f"{len(leaks)} pages show English or codes to a Chinese reader as {username}: {report}"
