"""Search over the term index: BM25-like text match, weighted by field, times how often an entry solved a job.

Portable on purpose: a plain indexed table and IN / range lookups, the same on SQLite and PostgreSQL.
"""

import math
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from fieldservice.core.errors import ValidationFailed
from fieldservice.customers.models import Product
from fieldservice.extensions import db
from fieldservice.knowledge.models import KnowledgeCause, KnowledgeEntry, KnowledgeTerm
from fieldservice.knowledge.terms import QueryTerms, index_terms, query_terms

# What a match is worth by where it is: the symptom is what people type, then the code on the display.
FIELD_WEIGHTS = {"symptom": 3.0, "code": 2.5, "cause": 1.5, "solution": 1.0}
# Unigrams (for one-character queries) only where text is short; solutions would double the index for little.
UNIGRAM_FIELDS = frozenset({"symptom", "cause"})
K1 = 1.2
# A word that only begins an indexed word ("compres" while typing "compressor") counts for less.
PREFIX_FACTOR = 0.6
# An entry written for the very product beats one written for its whole category.
PRODUCT_BOOST = 1.2
PUBLISHED = ("published",)


def full_entry() -> tuple:
    """Loader options for an entry with all its schema shows, in a few queries rather than one per entry.

    A function, not a module constant: building the options configures every mapper, which must not happen
    while the domains' models are still being imported.
    """
    return (
        selectinload(KnowledgeEntry.causes).selectinload(KnowledgeCause.solutions),
        selectinload(KnowledgeEntry.product),
    )


@dataclass
class SearchHit:
    """An entry with its score; reads through to the entry, so entry schemas dump it as they are."""

    entry: KnowledgeEntry
    score: float | None

    def __getattr__(self, name):
        return getattr(self.entry, name)


def entry_fields(entry: KnowledgeEntry) -> dict[str, str]:
    """The text of each indexed field of *entry*."""
    solutions = [s for c in entry.causes for s in c.solutions]
    return {
        "symptom": entry.symptom or "",
        "code": entry.fault_code or "",
        "cause": "\n".join(c.description for c in entry.causes),
        "solution": "\n".join("\n".join([s.summary, *(s.steps or []), s.parts or ""]) for s in solutions),
    }


def index_entry(entry: KnowledgeEntry) -> int:
    """Rebuild *entry*'s rows of the term index (flushes; the caller commits). Returns the number of rows."""
    db.session.flush()
    db.session.execute(sa.delete(KnowledgeTerm).where(KnowledgeTerm.entry_id == entry.id))
    rows = [
        {"entry_id": entry.id, "field": field, "term": term, "weight": float(count)}
        for field, text in entry_fields(entry).items()
        for term, count in index_terms(text, unigrams=field in UNIGRAM_FIELDS).items()
    ]
    if rows:
        db.session.execute(sa.insert(KnowledgeTerm), rows)
    return len(rows)


def _term_filter(terms: QueryTerms, columns):
    conditions = []
    if terms.exact:
        conditions.append(columns.term.in_(terms.exact))
    for prefix in terms.prefixes:
        # The range uses the index on both databases; LIKE keeps the match exact under any collation.
        conditions.append(
            sa.and_(
                columns.term >= prefix,
                columns.term < prefix + "\U0010ffff",
                columns.term.startswith(prefix, autoescape=True),
            )
        )
    return sa.or_(*conditions)


def scope_filter(product_id: int | None = None, category: str | None = None, statuses=PUBLISHED) -> list:
    """WHERE clauses on KnowledgeEntry: statuses, a category, a product (its own entries + its category's)."""
    clauses = [KnowledgeEntry.status.in_(statuses)]
    if category:
        clauses.append(KnowledgeEntry.category == category)
    if product_id is not None:
        product = db.session.get(Product, product_id)
        if product is None:
            raise ValidationFailed(
                "validation_failed", "No such product.", {"product_id": "No such product."}
            )
        clauses.append(
            sa.or_(
                KnowledgeEntry.product_id == product.id,
                sa.and_(KnowledgeEntry.product_id.is_(None), KnowledgeEntry.category == product.category),
            )
        )
    return clauses


def _min_match(n: int) -> int:
    """How many of a query's terms an entry must contain: a short query's few, a quarter of a long one's."""
    return max(1, min(3, math.ceil(n / 4)))


def ranked_ids(
    q: str, product_id: int | None = None, category: str | None = None, statuses=PUBLISHED
) -> list[tuple[int, float]]:
    """Every entry matching *q* in scope, best first, as (entry id, score)."""
    scope = scope_filter(product_id, category, statuses)  # first: an unknown product is an error, not no hits
    terms = query_terms(q)
    if not len(terms):
        return []
    # Two plain queries rather than one join: the term rows come straight off the covering (term, ...) index,
    # and
    # no planner is tempted to walk the entries first and scan each one's terms. Core columns: thousands of
    # plain
    # tuples, without the ORM's per-row work.
    t = KnowledgeTerm.__table__.c
    rows = db.session.execute(
        sa.select(t.entry_id, t.term, t.field, t.weight).where(_term_filter(terms, t))
    ).all()
    if not rows:
        return []
    idf = _idf(rows)
    origins = {term: _origin(term, terms) for term in idf}
    text_score: dict[int, float] = defaultdict(float)
    matched: dict[int, set[str]] = defaultdict(set)
    for entry_id, term, field, tf in rows:
        query_term, factor = origins[term]
        text_score[entry_id] += idf[term] * FIELD_WEIGHTS[field] * factor * tf * (K1 + 1) / (tf + K1)
        matched[entry_id].add(query_term)

    needed = _min_match(len(terms))
    candidates = {entry_id for entry_id, found in matched.items() if len(found) >= needed}
    # Scope (status, category, product) and counts, for the few entries that matched enough of the query.
    stats = _entry_stats(candidates, scope)
    ranked = []
    for entry_id, (uses, successes, entry_product) in stats.items():
        coverage = len(matched[entry_id]) / len(terms)
        # Laplace-smoothed success rate: an unused entry is neutral (x1.0); a proven one up to x1.25.
        proven = 0.75 + 0.5 * (successes + 1) / (uses + 2)
        boost = PRODUCT_BOOST if product_id is not None and entry_product == product_id else 1.0
        ranked.append((entry_id, round(text_score[entry_id] * (0.5 + 0.5 * coverage) * proven * boost, 4)))
    ranked.sort(key=lambda item: (-item[1], item[0]))
    return ranked


def _origin(term: str, terms: QueryTerms) -> tuple[str, float]:
    """The query term an indexed *term* answers, and what the match is worth (less when only a prefix)."""
    if term in terms.exact or term in terms.prefixes:
        return term, 1.0
    return max((p for p in terms.prefixes if term.startswith(p)), key=len), PREFIX_FACTOR


# Up to this many candidates, their rows are fetched by id; beyond it one pass over the scope is cheaper
# than a long IN list (and stays under SQLite's limit on bound parameters).
IN_LIMIT = 300


def _entry_stats(ids: set[int], scope: list) -> dict[int, tuple[int, int, int | None]]:
    """(uses, successes, product_id) of the entries of *ids* that are in *scope*."""
    if not ids:
        return {}
    e = KnowledgeEntry.__table__.c
    query = sa.select(e.id, e.uses, e.successes, e.product_id).where(*scope)
    if len(ids) <= IN_LIMIT:
        query = query.where(e.id.in_(sorted(ids)))
    return {
        entry_id: (uses, successes, product_id)
        for entry_id, uses, successes, product_id in db.session.execute(query)
        if entry_id in ids
    }


def _idf(rows) -> dict[str, float]:
    """BM25's idf of each matched term, its document frequency counted over the whole base (every status)."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(KnowledgeEntry)) or 1
    entries: dict[str, set[int]] = defaultdict(set)
    for entry_id, term, _field, _weight in rows:
        entries[term].add(entry_id)
    return {t: math.log(1 + (total - len(ids) + 0.5) / (len(ids) + 0.5)) for t, ids in entries.items()}


def load_hits(ranked: list[tuple[int, float]]) -> list[SearchHit]:
    """The entries of *ranked* (already sliced to a page), in its order."""
    if not ranked:
        return []
    entries = {
        e.id: e
        for e in db.session.scalars(
            sa.select(KnowledgeEntry)
            .where(KnowledgeEntry.id.in_([i for i, _ in ranked]))
            .options(*full_entry())
        )
    }
    return [SearchHit(entries[i], score) for i, score in ranked if i in entries]


def search(
    q: str,
    product_id: int | None = None,
    category: str | None = None,
    limit: int = 10,
    offset: int = 0,
    statuses=PUBLISHED,
) -> list[SearchHit]:
    """The best *limit* entries for *q* (published unless *statuses* says otherwise), with their scores."""
    return load_hits(ranked_ids(q, product_id, category, statuses)[offset : offset + limit])
