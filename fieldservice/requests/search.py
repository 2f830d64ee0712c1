"""The search box of the request lists (`q`): which requests match, in which order, and how many.

A request matches when *q* is its number or part of it, part of its customer's name or phone, or part of its
description. The matches come in four tiers, best first, each by due time: the number itself; a number, customer
name or phone that starts with *q*; one that contains it; the description only.

At a million requests a broad word (漏水: one request in nine) matches a hundred thousand rows, and ranking or
counting them all costs seconds. So, on PostgreSQL:
- a page is read tier by tier (tiered_page): each tier's rows come by due time from an ordered index, the
  earlier tiers' rows left out, and a tier is asked for only as many rows as the page still needs;
- the total is counted up to COUNT_CAP; past it the list says "more than" (capped_total);
- the customers are looked up first (a table a fiftieth of the requests' size) and passed as an array;
- text that cannot be in a request number (SR-YYYYMMDD-NNNN) is not looked for in the numbers;
- a two-character text, which has no trigram for the trigram indexes, is found through the bigram index of the
  description (core.search.bigram_index), e.g. 漏水.
SQLite reads the rows (the same tiers, ranked by one CASE).
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from fieldservice.core.search import bigrams, contains_text, escaped, has_bigrams, starts_with_text
from fieldservice.customers.models import Customer
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest

R = ServiceRequest

# A search counts its matches up to this many; past it the total is this and marked capped.
COUNT_CAP = 1000

# A whole request number (operations.next_number), what can start one, what can be in one.
_WHOLE_NUMBER = re.compile(r"SR-\d{8}-\d{4,}")
_NUMBER_START = re.compile(r"S|SR|SR-\d{0,8}|SR-\d{8}-\d*")
_NUMBER_PART = re.compile(r"[SR0-9-]+")


@dataclass(frozen=True)
class Search:
    """*text* (trimmed) and what it can match: the conditions of each tier."""

    text: str
    postgresql: bool
    # The customers whose name or phone starts with the text, and those in which it is elsewhere: ids on
    # PostgreSQL (an array the planner can weigh), a subquery elsewhere.
    starting: object
    containing: object

    @classmethod
    def of(cls, q: str) -> "Search":
        text = q.strip()
        postgresql = db.session.get_bind().dialect.name == "postgresql"
        starting_q = sa.select(Customer.id).where(starts_with_text(text, Customer.name, Customer.phone))
        containing_q = sa.select(Customer.id).where(
            contains_text(text, Customer.name, Customer.phone),
            sa.not_(starts_with_text(text, Customer.name, Customer.phone)),
        )
        if postgresql:
            found = db.session.execute(
                sa.select(Customer.id, starts_with_text(text, Customer.name, Customer.phone)).where(
                    contains_text(text, Customer.name, Customer.phone)
                )
            ).all()
            starting = sorted(id_ for id_, starts in found if starts)
            containing = sorted(id_ for id_, starts in found if not starts)
            return cls(text, True, starting, containing)
        return cls(text, False, starting_q, containing_q)

    # ------------------------------------------------------------ what the text can be

    @property
    def upper(self) -> str:
        return self.text.upper()

    @property
    def whole_number(self) -> bool:
        return bool(_WHOLE_NUMBER.fullmatch(self.upper))

    @property
    def number_start(self) -> bool:
        return bool(_NUMBER_START.fullmatch(self.upper))

    @property
    def number_part(self) -> bool:
        return bool(_NUMBER_PART.fullmatch(self.upper))

    # ------------------------------------------------------------ conditions

    def _customers(self, which, negate: bool = False):
        if self.postgresql:
            if not which:
                return sa.true() if negate else sa.false()
            array = sa.literal(which, postgresql.ARRAY(sa.Integer))
            return R.customer_id != sa.all_(array) if negate else R.customer_id == sa.any_(array)
        return R.customer_id.not_in(which) if negate else R.customer_id.in_(which)

    def _number_is(self):
        return R.number == self.upper if self.whole_number else sa.false()

    def _number_starts(self):
        if not self.number_start:
            return sa.false()
        start = self.upper
        # A range of the unique index on number (the database's order is by code point, C.UTF-8), then the
        # prefix itself.
        return sa.and_(
            R.number >= start, R.number < start + "\U0010ffff", R.number.like(escaped(start) + "%", escape="\\")
        )

    def _number_contains(self):
        if not self.number_part:
            return sa.false()
        if self.whole_number or self.upper in ("S", "SR", "SR-", "R", "R-"):
            # What every number has (SR-): the range, not the trigram index's million entries each.
            return self._number_starts() if self.whole_number else sa.true()
        return contains_text(self.text, R.number)

    def _description(self):
        condition = contains_text(self.text, R.description)
        if self.postgresql and has_bigrams(self.text):
            # Two characters have no trigram: the bigram index finds the rows, the ILIKE rechecks them.
            condition = sa.and_(
                sa.func.fs_bigrams(R.description).op("@>")(sa.literal(bigrams(self.text), postgresql.ARRAY(sa.Text))),
                condition,
            )
        return condition

    def tiers(self) -> list[sa.ColumnElement[bool]]:
        """The four tiers' conditions, each without the rows of the tiers before it."""
        is_number, starts, contains = self._number_is(), self._number_starts(), self._number_contains()
        tier0 = is_number
        tier1 = sa.and_(sa.or_(starts, self._customers(self.starting)), sa.not_(is_number))
        tier2 = sa.and_(
            sa.or_(contains, self._customers(self.containing)),
            sa.not_(starts),
            self._customers(self.starting, negate=True),
        )
        tier3 = sa.and_(
            self._description(),
            sa.not_(contains),
            self._customers(self.starting, negate=True),
            self._customers(self.containing, negate=True),
        )
        return [tier0, tier1, tier2, tier3]

    def match(self) -> sa.ColumnElement[bool]:
        """Every matching request (any tier)."""
        return sa.or_(
            self._number_contains(),
            self._customers(self.starting),
            self._customers(self.containing),
            self._description(),
        )

    def rank(self) -> sa.ColumnElement[int]:
        """The tier of a matching request, 0 best (one CASE: every match is ranked before the page is cut)."""
        is_number, starts, contains = self._number_is(), self._number_starts(), self._number_contains()
        return sa.case(
            (is_number, 0),
            (sa.or_(starts, self._customers(self.starting)), 1),
            (sa.or_(contains, self._customers(self.containing)), 2),
            else_=3,
        )


def count_statement(query: sa.Select, cap: int) -> sa.Select:
    """How many rows *query* gives, counted up to *cap* + 1."""
    limited = query.order_by(None).with_only_columns(sa.literal(1), maintain_column_froms=True).limit(cap + 1)
    return sa.select(sa.func.count()).select_from(limited.subquery())


def capped_total(query: sa.Select, cap: int | None = None) -> tuple[int, bool]:
    """(how many rows *query* gives, up to *cap* (COUNT_CAP); whether there are more than *cap*)."""
    cap = COUNT_CAP if cap is None else cap
    counted = db.session.scalar(count_statement(query, cap))
    return (cap, True) if counted > cap else (counted, False)


def tier_statements(query: sa.Select, search: Search, limit: int) -> list[sa.Select]:
    """For each tier that can have rows, the ids of the first *limit* of *query* (filtered, not by the search)
    in it, by due time."""
    plain = query.order_by(None).with_only_columns(R.id, maintain_column_froms=True)
    return [
        plain.where(condition).order_by(R.required_by, R.id).limit(sa.literal(limit, literal_execute=True))
        for condition in search.tiers()
        if not isinstance(condition, sa.sql.elements.False_)
    ]


def tiered_page(query: sa.Select, search: Search, offset: int, limit: int) -> list[int]:
    """The ids of rows *offset* to *offset* + *limit* of *query* (filtered, not by the search) narrowed to the
    matches of *search* and ranked by tier, then due time: read tier by tier, each through an index in due-time
    order and only as far as the page needs."""
    wanted = offset + limit
    ids: list[int] = []
    for statement in tier_statements(query, search, wanted):
        # A later tier is asked for what the page still needs only (the LIMIT is part of the statement's text).
        ids.extend(db.session.scalars(statement.limit(sa.literal(wanted - len(ids), literal_execute=True))).all())
        if len(ids) >= wanted:
            break
    return ids[offset:wanted]
