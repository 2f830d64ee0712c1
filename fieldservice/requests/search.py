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
- the description is searched through a trigram index of its text with each character doubled
  (core.search.doubled_trigram_index), which answers two characters too (漏水, which have no trigram of their
  own), and a common word's count looks at the newest requests first.
SQLite reads the rows (the same tiers, ranked by one CASE).
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles

from fieldservice.core.search import contains_text, doubled_contains, escaped, starts_with_text
from fieldservice.customers.models import Customer
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest

R = ServiceRequest

# A list whose rows must be counted (a search, a zone, overdue...) counts up to this many; past it the total is
# this and marked capped (operations.request_page).
COUNT_CAP = 1000
# What a common word's count looks at first (capped_total): this many of the newest requests.
PROBE_ROWS = 30_000
# A search answers pages within its first this many matches (GitHub's search, its first 1,000): a page further on
# would read every match up to there, tier by tier.
WINDOW = 10_000
# A search passes its customers' ids to the statements when there are at most this many, else their query.
CUSTOMER_IDS = 1000

# A whole request number (operations.next_number), what can start one, what can be in one.
_WHOLE_NUMBER = re.compile(r"SR-\d{8}-\d{4,}")
_NUMBER_START = re.compile(r"S|SR|SR-\d{0,8}|SR-\d{8}-\d*")
_NUMBER_PART = re.compile(r"[SR0-9-]+")
_PHONE_PART = re.compile(r"[0-9+\-() ]+")


@dataclass(frozen=True)
class Search:
    """*text* (trimmed) and what it can match: the conditions of each tier."""

    text: str
    postgresql: bool
    # The customers whose name or phone starts with the text, and those in which it is elsewhere: their ids when
    # there are at most CUSTOMER_IDS of them on PostgreSQL (an array the planner weighs element by element), else
    # the query that finds them (a subquery: PostgreSQL plans a semi-join from the customers' statistics, where an
    # array of ten thousand ids costs 5 to 7 ms of planning in every statement).
    starting: list[int] | sa.Select
    containing: list[int] | sa.Select
    # Both together (the customers the text is in).
    customers: list[int] | sa.Select

    @classmethod
    def of(cls, q: str) -> "Search":
        text = q.strip()
        postgresql = db.session.get_bind().dialect.name == "postgresql"
        # A phone holds digits, spaces and + - ( ) only (customers.schemas): other text is not looked for there.
        phone_like = bool(_PHONE_PART.fullmatch(text))
        columns = (Customer.name, Customer.phone) if phone_like else (Customer.name,)
        contains = _customer_contains(text, phone_like, postgresql)
        starting_q = sa.select(Customer.id).where(starts_with_text(text, *columns))
        containing_q = sa.select(Customer.id).where(contains, sa.not_(starts_with_text(text, *columns)))
        customers_q = sa.select(Customer.id).where(contains)
        if not postgresql:
            return cls(text, False, starting_q, containing_q, customers_q)
        found = db.session.execute(
            sa.select(Customer.id, starts_with_text(text, *columns)).where(contains).limit(CUSTOMER_IDS + 1)
        ).all()
        if len(found) > CUSTOMER_IDS:
            return cls(text, True, starting_q, containing_q, customers_q)
        starting = sorted(id_ for id_, starts in found if starts)
        containing = sorted(id_ for id_, starts in found if not starts)
        return cls(text, True, starting, containing, sorted(starting + containing))

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

    def _customers(self, which, *, in_or: bool = False) -> list:
        """[the condition "the request's customer is one of *which*"], or [] when *which* is known empty. *in_or*:
        the condition is one of an OR (match), where a subquery would be asked row by row: its ids are then
        gathered first into an array (an InitPlan), which the customer_id index answers in the OR's BitmapOr."""
        if isinstance(which, list):
            return [R.customer_id == sa.any_(sa.literal(which, postgresql.ARRAY(sa.Integer)))] if which else []
        if in_or and self.postgresql:
            return [R.customer_id == sa.any_(sa.func.array(which.scalar_subquery()))]
        return [R.customer_id.in_(which)]

    def _not_customers(self, which) -> list:
        if isinstance(which, list):
            return [R.customer_id != sa.all_(sa.literal(which, postgresql.ARRAY(sa.Integer)))] if which else []
        return [R.customer_id.not_in(which)]

    def _number_is(self) -> list:
        return [R.number == self.upper] if self.whole_number else []

    def _number_starts(self) -> list:
        if not self.number_start:
            return []
        start = self.upper
        # A range of the unique index on number (the database's order is by code point, C.UTF-8), then the
        # prefix itself.
        return [
            sa.and_(
                R.number >= start, R.number < start + "\U0010ffff", R.number.like(escaped(start) + "%", escape="\\")
            )
        ]

    def _number_contains(self) -> list:
        if not self.number_part:
            return []
        if self.whole_number:
            return self._number_starts()  # a whole number can only start one
        if self.upper in ("S", "SR", "SR-", "R", "R-"):
            return [sa.true()]  # what every number has
        return [contains_text(self.text, R.number)]

    def _description(self) -> list:
        if self.postgresql and len(self.text) >= 2:
            return [
                sa.and_(
                    # The cheap test first: where the rows are read (a probe, a walk by due time), it is asked of
                    # every row, and the doubled text is made only of the rows that pass it.
                    contains_text(self.text, R.description),
                    # What the index answers.
                    doubled_contains(self.text, R.description),
                )
            ]
        return [contains_text(self.text, R.description)]

    def tiers(self) -> list[sa.ColumnElement[bool]]:
        """The conditions of the tiers that can have rows, best first, each without the rows of the tiers before
        it."""
        is_number, starts, contains = self._number_is(), self._number_starts(), self._number_contains()
        tiers = [
            (is_number, []),
            (starts + self._customers(self.starting), [sa.not_(c) for c in is_number]),
            (
                contains + self._customers(self.containing),
                [sa.not_(c) for c in starts] + self._not_customers(self.starting),
            ),
            (
                self._description(),
                [sa.not_(c) for c in contains]
                + self._not_customers(self.starting)
                + self._not_customers(self.containing),
            ),
        ]
        return [sa.and_(sa.or_(*found), *others) for found, others in tiers if found]

    def match(self) -> sa.ColumnElement[bool]:
        """Every matching request (any tier)."""
        return sa.or_(
            *self._number_contains(),
            *self._customers(self.starting, in_or=True),
            *self._customers(self.containing, in_or=True),
            *self._description(),
        )

    def rank(self) -> sa.ColumnElement[int]:
        """The tier of a matching request, 0 best (one CASE: every match is ranked before the page is cut)."""
        whens = [
            (sa.or_(*found), tier)
            for tier, found in enumerate(
                (
                    self._number_is(),
                    self._number_starts() + self._customers(self.starting),
                    self._number_contains() + self._customers(self.containing),
                )
            )
            if found
        ]
        return sa.case(*whens, else_=3) if whens else sa.literal(3)


def _customer_contains(text: str, phone_like: bool, postgresql: bool) -> sa.ColumnElement[bool]:
    """The customers whose name (and phone, for *phone_like* text) contains *text*. Two characters (a name: 张伟)
    have no trigram: on PostgreSQL the name's index of its doubled text answers them (3 to 4.5 ms of reading every
    customer at 20,000, against 0.1 to 2); two phone-like characters are looked for in the phones too, which are
    read."""
    if phone_like:
        return contains_text(text, Customer.name, Customer.phone)
    if postgresql and len(text) == 2:
        return sa.and_(contains_text(text, Customer.name), doubled_contains(text, Customer.name))
    return contains_text(text, Customer.name)


def count_statement(query: sa.Select, cap: int) -> sa.Select:
    """How many rows *query* gives, counted up to *cap* + 1."""
    limited = query.order_by(None).with_only_columns(sa.literal(1), maintain_column_froms=True).limit(cap + 1)
    return sa.select(sa.func.count()).select_from(limited.subquery())


def probe_statement(query: sa.Select, condition: sa.ColumnElement[bool], cap: int, after_id: int) -> sa.Select:
    """How many of the requests with an id above *after_id* (the newest) are rows of *query* and meet *condition*,
    counted up to *cap* + 1: read through the primary key's range, whatever the selectivity, and only as far as the
    count needs. The bound is written into the SQL, so that each plan knows how narrow the range is."""
    where = condition if query.whereclause is None else sa.and_(query.whereclause, condition)
    newest = R.id > sa.literal(after_id, literal_execute=True)
    limited = sa.select(sa.literal(1)).select_from(R).where(where, newest).limit(cap + 1)
    return sa.select(sa.func.count()).select_from(limited.subquery())


class _ExplainJson(sa.sql.expression.Executable, sa.sql.expression.ClauseElement):
    """EXPLAIN (FORMAT JSON) of a select, its values bound as the select's own would be (never written into the
    SQL text: the search text is the user's)."""

    inherit_cache = False

    def __init__(self, statement: sa.Select):
        self.statement = statement


@compiles(_ExplainJson, "postgresql")
def _explain_json(element, compiler, **kw):
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def _estimated_rows(select: sa.Select) -> float:
    """How many rows PostgreSQL's planner expects *select* to give (from its statistics; nothing is read)."""
    (plan,) = db.session.execute(_ExplainJson(select)).scalar_one()
    return plan["Plan"]["Plan Rows"]


def _probe_from(search: Search, cap: int) -> int | None:
    """Where the probe of a common word starts (capped_total): the id above which are the newest PROBE_ROWS
    requests, when the description's matches of *search* are common enough (by the planner's statistics of the
    description's doubled text, which its index has) that those requests likely hold more than *cap* of them; else
    None.

    The newest requests, not a part of the table as it lies on disk: the open ones a dispatcher's search is
    narrowed to are among them (漏水 among those awaiting assignment: 12 ms there, where the first rows on disk, all
    closed long ago, gave nothing in 15 ms and the whole count then took 26 ms), and the last pages on disk can be
    holes that VACUUM left (a probe there found too few and the count then took 27 ms)."""
    if not search.postgresql or len(search.text) < 2:
        return None
    matching = _estimated_rows(sa.select(R.id).where(doubled_contains(search.text, R.description)))
    every, last_id = db.session.execute(
        sa.text(
            "SELECT reltuples, (SELECT max(id) FROM service_requests) FROM pg_class"
            " WHERE oid = 'service_requests'::regclass"
        )
    ).one()
    if not every or every <= 0 or last_id is None or matching / every * min(PROBE_ROWS, every) <= 1.5 * cap:
        return None
    return last_id - PROBE_ROWS


def capped_total(
    query: sa.Select, search: Search | None = None, narrowed: sa.Select | None = None, cap: int | None = None
) -> tuple[int, bool]:
    """(how many rows *query* (*narrowed*, the list's other filters, and the search) gives, up to *cap*
    (COUNT_CAP); whether there are more than *cap*).

    Counting a broad search's matches through the indexes in one statement costs tens of milliseconds at a
    million requests (a BitmapOr of the number, customer and description indexes over tens of thousands of rows,
    each then read). So a search is first counted on a part of its matches that is cheap to read: the requests of
    its customers (one index), then for a common word the newest PROBE_ROWS requests. When
    more than *cap* match there, there are more than *cap* in all. Else every match is counted, up to *cap*."""
    cap = COUNT_CAP if cap is None else cap
    if search is not None and search.postgresql:
        of_customers = search._customers(search.customers)
        if of_customers and db.session.scalar(count_statement(narrowed.where(*of_customers), cap)) > cap:
            return cap, True
        after_id = _probe_from(search, cap)
        if after_id is not None:
            described = contains_text(search.text, R.description)
            if db.session.scalar(probe_statement(narrowed, described, cap, after_id)) > cap:
                return cap, True
    counted = db.session.scalar(count_statement(query, cap))
    return (cap, True) if counted > cap else (counted, False)


def tier_statements(query: sa.Select, search: Search, limit: int) -> list[sa.Select]:
    """For each tier that can have rows, the ids of the first *limit* of *query* (filtered, not by the search)
    in it, by due time."""
    plain = query.order_by(None).with_only_columns(R.id, maintain_column_froms=True)
    return [
        plain.where(condition).order_by(R.required_by, R.id).limit(sa.literal(limit, literal_execute=True))
        for condition in search.tiers()
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
