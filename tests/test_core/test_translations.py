"""Every string the UI shows has a Simplified-Chinese translation, and the compiled catalogs are up to date."""

import io
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

PACKAGE = Path(__file__).resolve().parents[2] / "fieldservice"
METHODS = [("**/static/**", "ignore"), ("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "_l": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
}


def _catalogs():
    for po in sorted(PACKAGE.glob("*/translations/zh_Hans/LC_MESSAGES/messages.po")):
        with po.open("rb") as f:
            yield po, read_po(f, locale="zh_Hans")


def _extracted() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), METHODS, keywords=KEYWORDS, options_map={"**/templates/**.html": {"extensions": ""}}
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, set()).add(filename)
    return found


def test_every_ui_string_has_a_chinese_translation():
    translated = set()
    for _po, catalog in _catalogs():
        translated |= {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and m.string}
    missing = {msgid: sorted(files)[:2] for msgid, files in _extracted().items() if msgid not in translated}
    assert not missing, f"{len(missing)} UI strings have no Chinese translation: " + "; ".join(
        f"{m!r} ({', '.join(f)})" for m, f in sorted(missing.items())[:40]
    )


def test_compiled_catalogs_match_their_sources():
    for po, catalog in _catalogs():
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo} is missing: run pybabel compile -d {po.parents[2]}"
        with mo.open("rb") as f:
            compiled = {m.id: m.string for m in read_mo(f) if m.id}
        expected = io.BytesIO()
        write_mo(expected, catalog)
        expected.seek(0)
        fresh = {m.id: m.string for m in read_mo(expected) if m.id}
        assert compiled == fresh, f"{mo} is stale: run pybabel compile -d {po.parents[2]}"


def test_no_translation_is_fuzzy():
    fuzzy = [(po.parents[3].name, m.id) for po, catalog in _catalogs() for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy translations (check and clear the flag): {fuzzy[:20]}"


_CJK = "\u4e00-\u9fff"
# A half-width mark after a Chinese character or a placeholder in Chinese text, or before a Chinese character;
# parentheses around Chinese text. Chinese text takes full-width punctuation (，：；！？（）).
_HALF_WIDTH = re.compile(
    rf"[{_CJK}][,:;!?](?!\d)|\)s[,:;!?](?=[{_CJK}%])|[,:;!?][{_CJK}]|[{_CJK}] ?\((?!\w+\)s)|\([^()%]*[{_CJK}][^()%]*\)"
)


def test_chinese_translations_use_full_width_punctuation():
    found = []
    for po, catalog in _catalogs():
        for m in catalog:
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            found += [(po.parents[3].name, s) for s in strings if m.id and s and _HALF_WIDTH.search(s)]
    assert not found, f"{len(found)} translations with half-width punctuation: {found[:20]}"


def test_a_message_means_one_thing_across_the_catalogs():
    """Flask-Babel merges the domains' catalogs: one msgid with two translations shows either, by chance."""
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for po, catalog in _catalogs():
        for m in catalog:
            if not m.id or not m.string or not isinstance(m.id, str):
                continue
            first = seen.setdefault(m.id, (po.parents[3].name, m.string))
            if first[1] != m.string:
                clashes.append((m.id, first, (po.parents[3].name, m.string)))
    assert not clashes, f"{len(clashes)} messages translated differently in two catalogs: {clashes[:15]}"
