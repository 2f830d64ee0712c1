"""Text to search terms, the same way for the index and for queries.

Chinese is written without spaces, so word search finds nothing in it: a CJK run gives its character bigrams
("机器底部漏水" -> 机器 器底 底部 部漏 漏水), which a query's bigrams then meet whatever the query's length.
Short fields
also keep unigrams, for one-character queries. Latin text gives lower-cased words with a light English stemmer
("leaking" -> "leak"), and codes written with separators also give their joined form ("E-05" -> e, 05, e05).
"""

import re
import unicodedata
from collections import Counter

# CJK ideographs (basic, extension A, compatibility, extensions B-F), kana and hangul: none use spaces
# reliably.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ebef"
_TOKEN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")
_CODE = re.compile(r"[0-9a-z]+(?:[-_./][0-9a-z]+)+")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "to",
        "was",
        "were",
        "with",
    ]
)
MAX_TERM = 64


def normalize(text: str) -> str:
    """Full-width to half-width, lower case (NFKC folds Ｅ０５ into e05)."""
    return unicodedata.normalize("NFKC", text or "").lower()


def stem(word: str) -> str:
    """Strip common English endings so that leak, leaks, leaked and leaking meet."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            # running -> runn -> run; but keep fall, press, buzz.
            if len(word) >= 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    else:
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh")):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
    # freeze/freezing and noise/noises end up alike once a final e goes.
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _cjk_terms(run: str, unigrams: bool) -> list[str]:
    if len(run) == 1:
        return [run]
    terms = [run[i : i + 2] for i in range(len(run) - 1)]
    if unigrams:
        terms.extend(run)
    return terms


def _latin_terms(word: str) -> list[str]:
    if word in STOPWORDS:
        return []
    return [stem(word)[:MAX_TERM]]


def index_terms(text: str, unigrams: bool = False) -> Counter:
    """The terms of a field's text with their counts (term frequency)."""
    text = normalize(text)
    counts: Counter = Counter()
    for cjk, latin in _TOKEN.findall(text):
        counts.update(_cjk_terms(cjk, unigrams) if cjk else _latin_terms(latin))
    for code in _CODE.findall(text):
        counts[re.sub(r"[-_./]", "", code)[:MAX_TERM]] += 1
    return counts


class QueryTerms:
    """A query's terms: `exact` must equal an indexed term; `prefixes` may begin one (words being typed)."""

    def __init__(self, exact: list[str], prefixes: list[str]):
        self.exact = exact
        self.prefixes = prefixes

    def __len__(self) -> int:
        return len(self.exact) + len(self.prefixes)

    def __repr__(self) -> str:
        return f"<QueryTerms exact={self.exact} prefixes={self.prefixes}>"


def query_terms(q: str) -> QueryTerms:
    """Split a query like the index does; a Latin word of 4+ letters also matches words it begins."""
    # A code typed with separators is one term here ("E-05" -> e05), not three that must all match.
    text = _CODE.sub(lambda m: re.sub(r"[-_./]", "", m.group()), normalize(q))
    exact: list[str] = []
    prefixes: list[str] = []
    for cjk, latin in _TOKEN.findall(text):
        if cjk:
            exact.extend(t for t in _cjk_terms(cjk, unigrams=False) if t not in exact)
            continue
        for term in _latin_terms(latin):
            if len(term) >= 4 and term.isalpha():
                if term not in prefixes:
                    prefixes.append(term)
            elif term not in exact:
                exact.append(term)
    return QueryTerms(exact, prefixes)
