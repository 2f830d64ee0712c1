"""The service-request loop: the only writers of requests, visits and their timeline.

Every operation locks the request row before it looks at its state or version, checks everything before it
changes anything (a refused action changes nothing), records one timeline event per change, flushes,
never commits.
"""

import hashlib
import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache

import sqlalchemy as sa
from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import MANYTOONE, joinedload, selectinload
from sqlalchemy.orm.state import InstanceState

from fieldservice.contracts.operations import coverage_for
from fieldservice.core import numbering
from fieldservice.core.clock import add_working_days, site_zone
from fieldservice.core.errors import ApiError, Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.core.images import PHOTO, SIGNATURE, clean_image, decode_data_url
from fieldservice.core.models import (
    check_version,
    draws_ids,
    increment,
    insert_many,
    next_ids,
    transaction_cache,
    utcnow,
    within_savepoint,
)
from fieldservice.customers.models import Customer, Equipment, Product
from fieldservice.engineers.models import Engineer
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.requests import search as requests_search
from fieldservice.requests import signals
from fieldservice.requests.models import (
    Attachment,
    ProblemType,
    ProblemTypeRequestCount,
    ProductRequestCount,
    RequestCount,
    RequestEvent,
    RequestFieldChange,
    ServiceRequest,
    Survey,
    Visit,
    VisitCost,
)
from fieldservice.requests.search import Search, capped_total, tiered_page
from fieldservice.requests.states import (
    ACTIONS,
    ACTIVE,
    ASSIGNED,
    AWAITING,
    CALLBACK,
    CLOSED,
    DISPATCH,
    EDITABLE_FIELDS,
    ENGINEER,
    FIELD_LABELS,
    KEEPS_DEADLINE,
    LOCKED,
    NOBODY,
    RESOLVED,
    REVISITED,
    SUSPENDED,
    UNOWNED,
    UNREACHABLE_AFTER_ATTEMPTS,
    Transition,
    note_data,
    roles_for,
    status_label,
    transitions_for,
)

log = logging.getLogger("fieldservice.requests")

CHANNELS = ("phone", "web", "wechat", "email", "walk_in", "qr", "maintenance", "api", "other")
# Phones' clocks drift and offline writes arrive late: tolerate this much "future" in times sent by clients.
CLOCK_SKEW = timedelta(minutes=10)

# DOMAIN.md "Priorities": (response, resolution) per priority; "working_days" count the site's working days
# (core.clock: Monday-Friday by its holiday calendar).
PRIORITY_TERMS = {
    1: (("hours", 2), ("hours", 24)),
    2: (("hours", 24), ("hours", 72)),
    3: (("hours", 72), ("hours", 7 * 24)),
    4: (("working_days", 5), ("working_days", 10)),
}


# ---------------------------------------------------------------- time


def _after(start: datetime, term: tuple[str, int]) -> datetime:
    kind, amount = term
    if kind == "working_days":
        return add_working_days(start, amount)
    return start + timedelta(hours=amount)


def due_times(priority: int, at: datetime, coverage=None) -> tuple[datetime, datetime]:
    """(response_due, resolution_due): the priority's terms, or the agreement's hours where stricter."""
    response_term, resolution_term = PRIORITY_TERMS[priority]
    response_due, resolution_due = _after(at, response_term), _after(at, resolution_term)
    response_hours = getattr(coverage, "response_hours", None)
    resolution_hours = getattr(coverage, "resolution_hours", None)
    if response_hours:
        response_due = min(response_due, at + timedelta(hours=float(response_hours)))
    if resolution_hours:
        resolution_due = min(resolution_due, at + timedelta(hours=float(resolution_hours)))
    return response_due, resolution_due


def end_of_day(day: date) -> datetime:
    """A required *date* means the end of that day, site time."""
    return datetime.combine(day, time(23, 59), tzinfo=site_zone()).astimezone(UTC)


# ---------------------------------------------------------------- lookups


def get_request(request_id: int) -> ServiceRequest:
    sr = db.session.get(ServiceRequest, request_id)
    if sr is None:
        raise NotFound("not_found", _("No service request with id %(id)s.", id=request_id))
    return sr


def is_visible(request_id: int, user) -> bool:
    return (
        db.session.scalar(
            visible_requests(user).with_only_columns(ServiceRequest.id).where(ServiceRequest.id == request_id)
        )
        is not None
    )


def get_visible_request(request_id: int, user) -> ServiceRequest:
    """The request if *user* may see it; 404 otherwise (an invisible request does not exist for them)."""
    sr = db.session.scalar(visible_requests(user).where(ServiceRequest.id == request_id))
    if sr is None:
        raise NotFound("not_found", _("No service request with id %(id)s.", id=request_id))
    return sr


def _engineer_of(user):
    if user is None:
        return None
    return engineer_for_user(user)


def visible_requests(user) -> sa.Select:
    """The requests *user* may read (API.md "Visibility"), as a select to filter, sort and page further."""
    query = sa.select(ServiceRequest)
    role = getattr(user, "role", None)
    if role in DISPATCH:
        return query
    if role == CALLBACK:
        return query.where(ServiceRequest.status.in_((RESOLVED, REVISITED)))
    if role == ENGINEER:
        engineer = _engineer_of(user)
        if engineer is None:
            return query.where(sa.false())
        pool = sa.and_(
            ServiceRequest.status == AWAITING,
            ServiceRequest.service_category.in_(engineer.skill_categories),
        )
        return query.where(sa.or_(ServiceRequest.engineer_id == engineer.id, pool))
    return query.where(sa.false())


def filter_requests(
    query: sa.Select,
    *,
    status=None,
    engineer_id: int | None = None,
    customer_id: int | None = None,
    q: str | None = None,
    overdue: bool | None = None,
    priority: int | None = None,
    zone: str | None = None,
    sort: str | None = None,
    now: datetime | None = None,
    search: Search | None = None,
) -> sa.Select:
    """Narrow and sort a request select by the list filters of the API and the console. The order is *sort*;
    without it, the best matches of *q* first (search.Search.rank), else by the customer's required date.
    *search*: the Search of *q* made already."""
    now = now or utcnow()
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        query = query.where(ServiceRequest.status.in_(statuses))
    if engineer_id:
        query = query.where(ServiceRequest.engineer_id == engineer_id)
    if customer_id:
        query = query.where(ServiceRequest.customer_id == customer_id)
    if priority:
        query = query.where(ServiceRequest.priority == priority)
    if zone:
        query = query.where(ServiceRequest.customer_id.in_(sa.select(Customer.id).where(Customer.zone == zone)))
    if overdue is not None:
        late = sa.and_(
            ServiceRequest.status.in_(tuple(ACTIVE)),
            sa.or_(
                ServiceRequest.required_by < now,
                ServiceRequest.response_breached,
                ServiceRequest.resolution_breached,
            ),
        )
        query = query.where(late if overdue else sa.not_(late))
    rank = None
    if search is None and q and q.strip():
        search = Search.of(q)
    if search is not None:
        query = query.where(search.match())
        rank = search.rank()
    if sort is None or sort == "relevance":
        sort = "relevance" if rank is not None else "due"
    order = {
        "due": (ServiceRequest.required_by, ServiceRequest.id),
        "response_due": (ServiceRequest.response_due, ServiceRequest.id),
        "priority": (ServiceRequest.priority, ServiceRequest.required_by, ServiceRequest.id),
        "created": (ServiceRequest.created_at, ServiceRequest.id),
        "-created": (ServiceRequest.created_at.desc(), ServiceRequest.id.desc()),
    }.get(sort)
    if order is None:  # relevance: the best matches of q first, each tier by due time
        order = (rank, ServiceRequest.required_by, ServiceRequest.id)
    return query.order_by(*order)


@dataclass
class RequestPage:
    """One page of a request list: the select of its rows in their order, how many the list has, and whether
    that is a search's count stopped at search.COUNT_CAP (there are more)."""

    select: sa.Select
    total: int
    capped: bool = False
    # The page's ids in order when they were read already (a ranked search), else None.
    ids: list[int] | None = None


def request_page(query: sa.Select, page: int, per_page: int, *, total: int | None = None, **filters) -> RequestPage:
    """Page *page* (from 1) of *per_page* of the requests of *query* (those the caller may see) narrowed and
    sorted by *filters* (filter_requests'). *total*: the list's size when known another way (listed_total, the
    kept counts of the status and priority lists); else the rows are counted up to search.COUNT_CAP (at a
    million requests an exact count of the overdue or of a zone reads tens of thousands of rows: 20 to 26 ms
    against 3 to 6). A search (`q`), ranked by relevance on PostgreSQL, reads its page tier by tier
    (search.tiered_page) rather than ranking every match."""
    offset = (page - 1) * per_page
    q = (filters.pop("q", None) or "").strip()
    if not q:
        listed = filter_requests(query, **filters)
        capped = False
        if total is None:
            total, capped = capped_total(listed)
        return RequestPage(_limited(listed, offset, per_page), total, capped)
    if offset >= requests_search.WINDOW:  # read at the call: a setting of the search module
        raise PastSearchWindow(requests_search.WINDOW)
    search = Search.of(q)
    listed = filter_requests(query, search=search, **filters)
    narrowed = filter_requests(query, **{**filters, "sort": "due"})
    total, capped = capped_total(listed, search, narrowed)
    if search.postgresql and filters.get("sort") in (None, "relevance"):
        ids = tiered_page(narrowed, search, offset, per_page)
        in_order = sa.func.array_position(sa.literal(ids, postgresql.ARRAY(sa.Integer)), ServiceRequest.id)
        return RequestPage(query.where(ServiceRequest.id.in_(ids)).order_by(in_order), total, capped, ids)
    return RequestPage(_limited(listed, offset, per_page), total, capped)


class PastSearchWindow(ValidationFailed):
    """A search's page past its first *window* matches (search.WINDOW): a 422 naming `page`; the console moves to
    the window's last page instead."""

    def __init__(self, window: int):
        super().__init__(
            "validation_failed",
            f"A search shows its first {window:,} matches: narrow it to see the others.",
            {"page": f"Past the search's first {window:,} matches."},
        )
        self.window = window


def _limited(select: sa.Select, offset: int, limit: int) -> sa.Select:
    # LIMIT and OFFSET written into the SQL rather than bound: PostgreSQL then plans the prepared statement
    # once (a generic plan) instead of planning each page anew for a LIMIT it cannot see.
    return select.limit(sa.literal(limit, literal_execute=True)).offset(sa.literal(offset, literal_execute=True))


# The list filters that narrow by something else than the status and the priority: with any of them the list's
# total is counted from the rows; without, from service_request_counts.
_ROW_FILTERS = ("engineer_id", "customer_id", "q", "overdue", "zone")


def listed_total(user, *, status=None, priority: int | None = None, **filters) -> int | None:
    """The list's `total` from the kept counts (models.RequestCount) when the filters are only the status and the
    priority and *user* sees every request of those statuses (dispatch roles; the callback desk its two states);
    None when the rows must be counted (other filters, an engineer, SQLite)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return None
    if any(filters.get(name) not in (None, "") for name in _ROW_FILTERS):
        return None
    role = getattr(user, "role", None)
    if role in DISPATCH:
        visible = None
    elif role == CALLBACK:
        visible = {RESOLVED, REVISITED}
    else:
        return None
    statuses = None
    if status:
        statuses = {status} if isinstance(status, str) else set(status)
    if visible is not None:
        statuses = visible if statuses is None else statuses & visible
    query = sa.select(sa.func.coalesce(sa.func.sum(RequestCount.delta), 0))
    if statuses is not None:
        if not statuses:
            return 0
        query = query.where(RequestCount.status.in_(sorted(statuses)))
    if priority:
        query = query.where(RequestCount.priority == priority)
    return int(db.session.scalar(query))


def fold_request_counts() -> None:
    """Fold the rows of service_request_counts into one per (status, priority), keeping every sum: by one worker
    at a time (a transaction-scoped advisory lock; the others skip it). Writers only insert there, so they never
    wait for this."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    if not db.session.scalar(sa.text("SELECT pg_try_advisory_xact_lock(hashtext('service_request_counts'))")):
        return
    db.session.execute(
        sa.text(
            "WITH gone AS (DELETE FROM service_request_counts RETURNING status, priority, delta)"
            " INSERT INTO service_request_counts (status, priority, delta)"
            " SELECT status, priority, sum(delta) FROM gone GROUP BY status, priority HAVING sum(delta) <> 0"
        )
    )


# ---------------------------------------------------------------- intake


def next_number(at: datetime) -> str:
    """SR-YYYYMMDD-NNNN, numbered per day in the site's time zone."""
    day = at.astimezone(site_zone()).strftime("%Y%m%d")
    return numbering.next_number(f"SR-{day}")


def coverage_at(customer_id: int, equipment_id: int | None, at: datetime):
    """The agreement or warranty covering the customer's equipment at *at* (contracts domain)."""
    return coverage_for(customer_id, equipment_id, at)


def create_request(data: dict, actor, *, now: datetime | None = None) -> ServiceRequest:
    """Log a request (rule 1): awaiting_assignment, or suspended if asked; counts product and problem type."""
    now = now or utcnow()
    fields: dict[str, str] = {}
    customer = db.session.get(Customer, data.get("customer_id") or 0)
    if customer is None:
        fields["customer_id"] = "No such customer."
    equipment = product = None
    if data.get("equipment_id"):
        equipment = db.session.get(Equipment, data["equipment_id"])
        if equipment is None:
            fields["equipment_id"] = "No such equipment."
        elif customer is not None and equipment.customer_id != customer.id:
            fields["equipment_id"] = "This equipment belongs to another customer."
    if data.get("product_id"):
        product = db.session.get(Product, data["product_id"])
        if product is None:
            fields["product_id"] = "No such product."
        elif equipment is not None and equipment.product_id != product.id:
            fields["product_id"] = "The equipment is a different product."
    if product is None and equipment is not None:
        product = equipment.product
    problem_type = db.session.scalar(sa.select(ProblemType).where(ProblemType.code == (data.get("problem_type") or "")))
    if problem_type is None or not problem_type.active:
        fields["problem_type"] = "Not a problem type in the managed list."
    description = (data.get("description") or "").strip()
    if not description:
        fields["description"] = "Describe the problem."
    priority = data.get("priority")
    if priority not in PRIORITY_TERMS:
        fields["priority"] = "Priority is 1, 2, 3 or 4."
    required_by = data.get("required_by")
    if not isinstance(required_by, datetime) or required_by.tzinfo is None:
        fields["required_by"] = "Give the customer's required date and time."
    elif required_by < now - CLOCK_SKEW:
        fields["required_by"] = "The required date is in the past."
    channel = data.get("channel") or "phone"
    if channel not in CHANNELS:
        fields["channel"] = "Not a known channel."
    category = (data.get("service_category") or "").strip() or (product.category if product else "")
    if not category and "product_id" not in fields and "equipment_id" not in fields:
        fields["service_category"] = "Give the product, the equipment or a service category."
    if fields:
        raise ValidationFailed(
            "validation_failed", "Some fields are not valid: " + ", ".join(sorted(fields)) + ".", fields
        )

    coverage = coverage_at(customer.id, equipment.id if equipment else None, now)
    response_due, resolution_due = due_times(priority, now, coverage)
    status = SUSPENDED if data.get("suspended") else AWAITING
    # No savepoint of its own: a caller that goes on after a failure here wraps this in one (the maintenance job
    # does); the API and the console roll the whole transaction back.
    sr = ServiceRequest(
        number=next_number(now),
        # The related rows themselves, not just their ids: the answer shows them with no reload.
        customer=customer,
        product=product,
        equipment=equipment,
        service_category=category,
        problem_type=problem_type.code,
        description=description,
        priority=priority,
        channel=channel,
        contact_name=data.get("contact_name"),
        contact_phone=data.get("contact_phone"),
        required_by=required_by,
        response_due=response_due,
        resolution_due=resolution_due,
        status=status,
        coverage=getattr(coverage, "kind", None) or "none",
        agreement_id=getattr(coverage, "agreement_id", None),
        created_by_id=actor.id if actor else None,
        created_at=now,
    )
    db.session.add(sr)
    event = _new_event(sr, "create", actor, None, status, note=data.get("note"), data={"priority": priority}, at=now)
    db.session.add(event)
    db.session.flush()  # the request and its first timeline entry
    if product is not None:
        increment(ProductRequestCount.__table__, {"product_id": product.id}, "count")
    increment(ProblemTypeRequestCount.__table__, {"problem_type": problem_type.code}, "count")
    signals.event_added.send(sr, event=event)
    signals.request_created.send(sr)
    log.info("request %s %s created by %s (%s)", sr.id, sr.number, _who(actor), status)
    return sr


# ---------------------------------------------------------------- the timeline


def _who(actor) -> str:
    return actor.username if actor is not None else "system"


def add_event(
    sr: ServiceRequest,
    action: str,
    actor,
    from_status: str | None,
    to_status: str | None,
    note: str | None = None,
    data: dict | None = None,
    *,
    at: datetime | None = None,
    actor_label: str | None = None,
) -> RequestEvent:
    """Add one entry to the request's timeline (rule 6) and tell the subscribers."""
    event = _new_event(sr, action, actor, from_status, to_status, note, data, at=at, actor_label=actor_label)
    later = _stored_later()
    if later is None:
        db.session.add(event)
        db.session.flush()
        signals.event_added.send(sr, event=event)
    else:
        later.keep(event)
        signals.event_added.send(sr, event=event, new_rows=later.rows)
    return event


# ---------------------------------------------------------------- a batch's timeline, stored at its end

_LATER = "requests_timeline_stored_later"
_LATER_INTACT = "requests_timeline_stored_later_intact"


class TimelineStoredLater:
    """A run of the engineer's ops (sync: accept, depart, arrive, note, a visit) whose writes are stored together
    by store(): one flush for the run (the requests' changes, visits, images), then one INSERT per table for the
    timeline events and the rows the receivers queue (customer messages, verifications: signals' new_rows), not a
    flush or two per op. Events and visits have their ids at once (drawn from the sequences ahead, in order, so the
    ids and the timeline's order are the ones a flush per op gives): the receivers' message keys and the ops'
    answers name them. Each change of a request bumps its version as its own flush would (change()).
    PostgreSQL only (core.models.draws_ids); the caller rolls back whatever the run did if an op fails midway or the
    run is not intact(), and store()s before an op of another kind."""

    def __init__(self) -> None:
        self.rows: list = []
        self._ids: dict[type, list[int]] = {RequestEvent: [], Visit: []}
        # The events and visits the run's ops still to come make (one event per op): ids drawn at once.
        self.expected = {RequestEvent: 1, Visit: 1}
        self._cache = transaction_cache(_LATER_INTACT)
        # Each request's values after the run's last change of it (changed: its version bumped, see changed()).
        self._after: dict[int, tuple[ServiceRequest, dict]] = {}
        self._exact = True

    def next_id(self, model) -> int:
        """The next id of *model* (RequestEvent, Visit) in the order drawn; the run's expected ones are drawn in one
        query (receivers' extra events, an appointment kept on arrival, draw again)."""
        ids = self._ids[model]
        if not ids:
            ids.extend(next_ids(model, max(self.expected[model], 1)))
        return ids.pop(0)

    def keep(self, event: RequestEvent) -> None:
        """Give *event* its id and keep it for store()."""
        event.id = self.next_id(RequestEvent)
        self.rows.append(event)

    def change(self, sr: ServiceRequest, make):
        """Run make() (a transition's change of *sr*) and bump the request's version if it changed a column: what
        the flush of one change per op writes (UPDATE ... version + 1), written by the run's next flush instead.

        A change of the request by anything else between two of the run's changes (a receiver) would have been
        flushed on its own, a version of its own: then the run is not exact (intact() is False) and the caller
        applies the batch again, flushing each op."""
        before = _column_values(sr)
        seen = self._after.get(sr.id)
        if seen is not None and seen[1] != before:
            self._exact = False
        result = make()
        after = _column_values(sr)
        if after != before:
            sr.version += 1
        self._after[sr.id] = (sr, after)
        return result

    def intact(self) -> bool:
        """False when a savepoint rolled back during the run (rows kept inside it may have been undone with it), or
        when a request changed between the run's changes of it (see change())."""
        if transaction_cache(_LATER_INTACT) is not self._cache:
            return False
        return self._exact and all(_column_values(sr) == after for sr, after in self._after.values())

    def store(self) -> None:
        """Flush the requests' changes and write the kept rows (insert_many): they are in the session afterwards,
        as a flush leaves them."""
        db.session.flush()
        rows, self.rows = self.rows, []
        self._after.clear()
        insert_many(rows)


@cache
def _counted_columns() -> tuple[str, ...]:
    """The request's columns whose change is an UPDATE (version and updated_at follow from them)."""
    return tuple(p.key for p in sa.inspect(ServiceRequest).column_attrs if p.key not in ("version", "updated_at"))


def _column_values(sr: ServiceRequest) -> dict:
    values = sa.inspect(sr).dict
    return {key: values.get(key) for key in _counted_columns()}


def timeline_stored_later() -> TimelineStoredLater | None:
    """A TimelineStoredLater for this transaction, or None where ids cannot be drawn ahead (SQLite)."""
    return TimelineStoredLater() if draws_ids() else None


@contextmanager
def storing_later(later: TimelineStoredLater | None):
    """Within the block, add_event and the transitions keep their events in *later* (None: they store them)."""
    if later is None:
        yield
        return
    db.session.info[_LATER] = later
    try:
        yield
    finally:
        db.session.info.pop(_LATER, None)


def _stored_later() -> TimelineStoredLater | None:
    return db.session.info.get(_LATER)


def _new_event(sr, action, actor, from_status, to_status, note=None, data=None, *, at=None, actor_label=None):
    """The timeline entry, not yet in the session: add_event and each transition add and store it, intake with
    the new request in one flush, assign_many its batch's in one insert."""
    if actor_label is None:
        actor_label = actor.display_name if actor is not None else "system"
    event = RequestEvent(
        request_id=sr.id,
        at=at or utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_label=actor_label[:120],
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data,
    )
    if sr.id is None:  # a new request has no id until it is stored, with this entry
        event.request = sr
    return event


# ---------------------------------------------------------------- transitions


_HELD = "service_requests_locked"


def _lock(sr: ServiceRequest) -> ServiceRequest:
    """Reload the request's row and hold it until commit, so the state and version we check are current.

    A row this transaction holds already (lock_requests, an earlier change) is not read again: nobody else can
    have changed it since, and the session has every change of ours."""
    if _held([sr.id]).get(sr.id) is sr:
        return sr
    locked = db.session.scalars(
        sa.select(ServiceRequest)
        .where(ServiceRequest.id == sr.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if locked is None:
        raise NotFound("not_found", _("No service request with id %(id)s.", id=sr.id))
    hold([locked])
    return locked


def _role(actor) -> str:
    return str(actor.role) if actor is not None else NOBODY


def _guard_assigned_engineer(sr: ServiceRequest, actor) -> None:
    engineer = _engineer_of(actor)
    if engineer is None or sr.engineer_id != engineer.id:
        raise Forbidden("not_assigned_engineer", "Only the engineer assigned to this request may do this.")


def _guard_has_skill(sr: ServiceRequest, actor) -> None:
    engineer = _engineer_of(actor)
    if engineer is None or not engineer.active:
        raise Forbidden("not_an_engineer", "Only an active engineer may claim a request.")
    if sr.service_category not in engineer.skill_categories:
        raise Forbidden("missing_skill", f"Claiming needs the skill {sr.service_category!r}.")


GUARDS = {"assigned_engineer": _guard_assigned_engineer, "has_skill": _guard_has_skill}

# Conditions choosing between rows of one action; they see the request before the change.
WHENS = {
    "satisfied": lambda sr, payload: bool(payload.get("satisfied")),
    "not_satisfied": lambda sr, payload: not payload.get("satisfied"),
    "solved": lambda sr, payload: payload.get("outcome") == "resolved",
    # Rule 3b: worked twice and still not solved.
    "unsolved_again": lambda sr, payload: payload.get("outcome") == "unresolved" and sr.unsolved_visit_count >= 1,
    "unsolved": lambda sr, payload: payload.get("outcome") == "unresolved",
}


@dataclass
class Step:
    """One transition being taken: what its effect reads, and what the effect leaves for the timeline entry."""

    actor: object
    payload: dict
    now: datetime
    engineer: object = None
    visit: Visit | None = None
    note: str | None = None
    data: dict | None = None
    actor_label: str | None = None


# What each row of TRANSITIONS changes besides the state (its `effect`), one function per effect. An effect sets
# the request's fields and the step's note and data; the state, the engineer letting go and the required date's
# rules are _change's, the same for every row.


def _take_engineer(sr: ServiceRequest, step: Step) -> None:
    """assign, claim: the engineer takes the job (rule 2)."""
    sr.engineer_id = step.engineer.id
    sr.assigned_at = step.now
    sr.arrived_at = None
    step.data = {"engineer_id": step.engineer.id, "engineer_name": step.engineer.name}


def _cancel(sr: ServiceRequest, step: Step) -> None:
    sr.cancel_reason = step.payload["reason"].strip()[:500]
    sr.closed_at = step.now


def _urge(sr: ServiceRequest, step: Step) -> None:
    sr.urged = True
    sr.urge_count += 1
    sr.last_urged_at = step.now
    if step.actor is None:
        step.actor_label = step.payload.get("actor_label") or "customer"


def _respond(sr: ServiceRequest, step: Step) -> None:
    """accept: the first answer to the request stops its response clock."""
    sr.responded_at = sr.responded_at or step.now


def _arrive(sr: ServiceRequest, step: Step) -> None:
    """arrive: on site, the job is handled (rule 4) and responded to."""
    sr.arrived_at = step.now
    sr.responded_at = sr.responded_at or step.now


def _survey(sr: ServiceRequest, step: Step) -> None:
    """revisit: keep the callback survey; satisfied closes the request, not satisfied runs the loop again."""
    scores = step.payload.get("scores") or {}
    survey = Survey(
        request_id=sr.id,
        satisfied=bool(step.payload["satisfied"]),
        timeliness=scores.get("timeliness"),
        attitude=scores.get("attitude"),
        quality=scores.get("quality"),
        comment=step.payload.get("comment"),
        by_id=step.actor.id if step.actor else None,
        at=step.now,
    )
    db.session.add(survey)
    db.session.flush()  # the event names the survey
    step.data = {"survey_id": survey.id, "satisfied": survey.satisfied, "scores": scores}
    if survey.satisfied:
        sr.closed_at = step.now
    else:
        sr.resolved_at = None
        if not step.note:
            step.data.update(note_data("not_satisfied"))


def _unreached(sr: ServiceRequest, step: Step) -> None:
    """close_unreachable: closed with no Survey row, so satisfaction never counts it."""
    sr.closed_at = step.now
    step.data = {"unreachable": True, "attempts": step.payload.get("attempts")}
    if step.payload.get("reason") == UNREACHABLE_AFTER_ATTEMPTS:
        # The callback desk's own closing after its last failed call: a system note, worded when read.
        step.note = None
        step.data.update(note_data(UNREACHABLE_AFTER_ATTEMPTS, attempts=step.payload.get("attempts")))


def _response_breach(sr: ServiceRequest, step: Step) -> None:
    sr.response_breached = True
    step.data = note_data("response_breach")


def _resolution_breach(sr: ServiceRequest, step: Step) -> None:
    sr.resolution_breached = True
    step.data = note_data("resolution_breach")


def _lock_unassigned(sr: ServiceRequest, step: Step) -> None:
    """lock (rule 3a): only the reason on the timeline; the new state is the change."""
    step.data = note_data("lock")


def _release(sr: ServiceRequest, step: Step) -> None:
    """release (rule 4): the timeline keeps who let the job go."""
    step.data = {"engineer_id": sr.engineer_id, **note_data("release")}


def _count_visit(sr: ServiceRequest, step: Step) -> None:
    """visit: counted; solved resolves the request, unsolved counts towards rule 3b."""
    visit = step.visit
    sr.visit_count += 1
    sr.responded_at = sr.responded_at or visit.arrived_at
    if visit.outcome == "resolved":
        sr.resolved_at = visit.finished_at
    else:
        sr.unsolved_visit_count += 1
    step.data = {"visit_id": visit.id, "outcome": visit.outcome, "engineer_id": visit.engineer_id}
    step.note = step.note or visit.solution or visit.cause


EFFECTS = {
    "take_engineer": _take_engineer,
    "cancel": _cancel,
    "urge": _urge,
    "respond": _respond,
    "arrive": _arrive,
    "survey": _survey,
    "unreached": _unreached,
    "response_breach": _response_breach,
    "resolution_breach": _resolution_breach,
    "lock": _lock_unassigned,
    "release": _release,
    "visit": _count_visit,
}


def choose_transition(sr: ServiceRequest, action: str, actor, payload: dict) -> Transition:
    """The row of TRANSITIONS that *actor* would take now, or the refusal: 404, 403 (role), 409 (state)."""
    rows = transitions_for(action)
    if not rows:
        raise NotFound("unknown_action", f"There is no action {action!r}.")
    role = _role(actor)
    if role not in roles_for(action):
        raise Forbidden("forbidden", f"Your role ({role}) may not {action} a request.")
    here = [t for t in rows if sr.status in t.sources]
    if not here:
        raise Conflict(
            "illegal_transition",
            f"Cannot {action} this request: it is {status_label(sr.status)} ({sr.status}).",
            current_status=sr.status,
        )
    mine = [t for t in here if role in t.roles]
    if not mine:
        raise Forbidden(
            "forbidden",
            f"Your role ({role}) may not {action} a request that is {status_label(sr.status)} ({sr.status}).",
        )
    for t in mine:
        if t.when is None or WHENS[t.when](sr, payload):
            return t
    field = "outcome" if action == "visit" else "satisfied"
    raise ValidationFailed("validation_failed", f"Some fields are not valid: {field}.", {field: "Not a valid value."})


def _check_payload(t: Transition, sr: ServiceRequest, payload: dict):
    """Validate what the action needs; returns the engineer for assign."""
    fields = {}
    for name in t.requires:
        value = payload.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            fields[name] = "Required for this action."
    engineer = None
    if t.action == "assign" and "engineer_id" not in fields:
        engineer = db.session.get(Engineer, payload["engineer_id"])
        if engineer is None or not engineer.active or not engineer.user.active:
            fields["engineer_id"] = "No active engineer with this id."
    if t.action == "revisit":
        for name, value in (payload.get("scores") or {}).items():
            if name not in ("timeliness", "attitude", "quality"):
                fields[f"scores.{name}"] = "Unknown score."
            elif value is not None and (not isinstance(value, int) or not 1 <= value <= 5):
                fields[f"scores.{name}"] = "A score is 1 to 5."
    if fields:
        raise ValidationFailed(
            "validation_failed", "Some fields are not valid: " + ", ".join(sorted(fields)) + ".", fields
        )
    return engineer


def perform(
    sr: ServiceRequest, action: str, actor, version: int | None = None, *, now=None, **payload
) -> ServiceRequest:
    """Take *action* on *sr* as *actor* (None: the customer or the system), per the TRANSITIONS table.

    Refusals: 409 stale_version / illegal_transition, 403 role or ownership, 422 payload; no change.
    """
    now = now or utcnow()
    if any(t.kind == "visit" for t in transitions_for(action)):
        raise NotFound("unknown_action", "A visit is recorded with record_visit (POST /requests/<id>/visits).")
    sr = _lock(sr)
    t = choose_transition(sr, action, actor, payload)
    check_version(sr, version)
    engineer = _check_payload(t, sr, payload)
    if t.guard:
        GUARDS[t.guard](sr, actor)
    if t.action == "claim":
        engineer = _engineer_of(actor)
    with within_savepoint():
        _apply(sr, t, actor, payload, now, engineer=engineer)
    return sr


# ---------------------------------------------------------------- details (contact, site, the engineer's note)


class FieldConflict(Conflict):
    """An offline edit of a field someone else changed since the version the edit was based on.

    `fields`: {field: {mine, theirs, by, at, version}}, every conflicting field of the edit."""


def may_edit_details(sr: ServiceRequest, actor) -> bool:
    """Whether *actor* may change the request's details now (edit_details' own checks, without the change)."""
    if sr.status in CLOSED:
        return False
    if _role(actor) in DISPATCH:
        return True
    engineer = _engineer_of(actor)
    return engineer is not None and sr.engineer_id == engineer.id


def edit_details(
    sr: ServiceRequest,
    changes: dict,
    actor,
    version: int | None = None,
    *,
    base_version: int | None = None,
    now: datetime | None = None,
) -> ServiceRequest:
    """Change the request's editable details (EDITABLE_FIELDS) as *actor*, recording who changed each field.

    *version* is the console's and the API's rule: an older version than the request's is refused (409
    stale_version). *base_version* is a phone's offline edit, merged by field: it applies when none of its
    fields was changed by someone else after that version, whatever else changed; otherwise it is refused
    whole (409 conflict), naming each field with both values and who changed it.
    """
    now = now or utcnow()
    sr = _lock(sr)
    if _role(actor) not in DISPATCH:
        _guard_assigned_engineer(sr, actor)
    if sr.status in CLOSED:
        raise Conflict(
            "illegal_transition",
            _("Request %(number)s is closed: its details no longer change.", number=sr.number),
        )
    check_version(sr, version)
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed(
            "validation_failed",
            "Some fields are not valid: " + ", ".join(unknown) + ".",
            dict.fromkeys(unknown, "Not a field that can be edited."),
        )
    if base_version is not None:
        if base_version > sr.version:
            raise ValidationFailed(
                "validation_failed",
                "Some fields are not valid: base_version.",
                {"base_version": f"Newer than the request's version ({sr.version})."},
            )
        conflicts = _conflicts(sr, changes, actor, base_version)
        if conflicts:
            raise FieldConflict(
                "conflict",
                _(
                    "Someone else changed %(fields)s after you read the job: keep yours or take theirs.",
                    fields=format_list([str(FIELD_LABELS[f]) for f in conflicts], locale=get_locale() or "en"),
                ),
                conflicts,
            )
    changed = {field: value for field, value in changes.items() if getattr(sr, field) != value}
    if not changed:
        return sr
    for field, value in changed.items():
        setattr(sr, field, value)
    event = _new_event(sr, "edit_details", actor, sr.status, sr.status, data={"fields": sorted(changed)}, at=now)
    db.session.add(event)
    db.session.flush()  # the new version, which the field changes name
    actor_label = (actor.display_name if actor is not None else "system")[:120]
    db.session.add_all(
        RequestFieldChange(
            request_id=sr.id,
            field=field,
            version=sr.version,
            value=value,
            actor_id=actor.id if actor is not None else None,
            actor_label=actor_label,
            at=now,
        )
        for field, value in sorted(changed.items())
    )
    db.session.flush()
    signals.event_added.send(sr, event=event)
    log.info("request %s details %s changed by %s", sr.id, ",".join(sorted(changed)), _who(actor))
    return sr


def _conflicts(sr: ServiceRequest, changes: dict, actor, base_version: int) -> dict[str, dict]:
    """The fields of *changes* someone other than *actor* changed after *base_version* and that now hold
    another value than *changes* gives them: {field: {mine, theirs, by, at, version}}."""
    rows = db.session.scalars(
        sa.select(RequestFieldChange)
        .where(
            RequestFieldChange.request_id == sr.id,
            RequestFieldChange.field.in_(list(changes)),
            RequestFieldChange.version > base_version,
        )
        .order_by(RequestFieldChange.version, RequestFieldChange.id)
    )
    actor_id = actor.id if actor is not None else None
    theirs: dict[str, RequestFieldChange] = {}
    for row in rows:
        if row.actor_id != actor_id or actor_id is None:
            theirs[row.field] = row
    return {
        field: {
            "mine": changes[field],
            "theirs": getattr(sr, field),
            "by": row.actor_label,
            "at": row.at.isoformat(),
            "version": sr.version,
        }
        for field, row in sorted(theirs.items())
        if getattr(sr, field) != changes[field]
    }


def lock_requests(request_ids) -> dict[int, ServiceRequest]:
    """Reload the requests' rows and hold them until commit: one query, by id (PostgreSQL: FOR UPDATE), in id
    order (two batches never wait on each other crosswise). The changes that follow in this transaction do not
    read them again."""
    request_ids = sorted(set(request_ids))
    if not request_ids:
        return {}
    rows = db.session.scalars(
        sa.select(ServiceRequest)
        .where(ServiceRequest.id.in_(request_ids))
        .order_by(ServiceRequest.id)
        .with_for_update()
        .execution_options(populate_existing=True)
        # The customers too, in one more query: subscribers (customer notifications) read them per request.
        .options(selectinload(ServiceRequest.customer))
    )
    return hold(rows)


def hold(requests) -> dict[int, ServiceRequest]:
    """Note *requests*, read with FOR UPDATE in this transaction by the caller (automatic dispatch reads its own
    batch so), as held: the changes that follow do not read or lock them again."""
    locked = {sr.id: sr for sr in requests}
    transaction_cache(_HELD).update(locked)
    return locked


def _held(request_ids) -> dict[int, ServiceRequest]:
    held = transaction_cache(_HELD)
    return {i: held[i] for i in request_ids if i in held and held[i] in db.session}


def _preload_engineers(engineer_ids) -> None:
    """Engineers and their logins in one query, so the per-request checks find them in the session."""
    db.session.scalars(
        sa.select(Engineer).where(Engineer.id.in_(set(engineer_ids))).options(joinedload(Engineer.user))
    ).all()


def _check_assign(sr: ServiceRequest | None, request_id: int, actor, payload: dict):
    """The checks perform() makes for one assign (the same TRANSITIONS rows and payload checks): the row
    taken and the engineer, or raises the refusal."""
    if sr is None:
        raise NotFound("not_found", _("No service request with id %(id)s.", id=request_id))
    t = choose_transition(sr, "assign", actor, payload)
    return t, _check_payload(t, sr, payload)


def _store_changes(requests: list[ServiceRequest]) -> None:
    """Write the changes made to the loaded *requests* in one UPDATE for all, as the ORM's flush writes them (each
    row's version checked and bumped, updated_at set), and leave them clean in the session, as a flush does.

    The ORM's flush sends one UPDATE per row of a versioned table: automatic dispatch changes hundreds at once.
    """
    mapper = sa.inspect(ServiceRequest)
    states = [sa.inspect(sr) for sr in requests]
    columns = {attr.key for attr in mapper.column_attrs}
    changed = sorted({key for state in states for key in state.committed_state if key in columns})
    # The relations whose key changed (the engineer): read afresh, from the identity map, when next used.
    stale = [
        rel.key
        for rel in mapper.relationships
        if rel.direction is MANYTOONE and {c.key for c in rel.local_columns} & set(changed)
    ]
    stamp = utcnow()
    # b_ keys select the row, and its version, as the ORM does.
    rows = [
        {"b_id": state.dict["id"], "b_version": state.dict["version"]}
        | {key: state.dict[key] for key in changed}
        | {"updated_at": stamp, "version": state.dict["version"] + 1}
        for state in states
    ]
    table = ServiceRequest.__table__
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"), table.c.version == sa.bindparam("b_version"))
        .values({key: sa.bindparam(key) for key in rows[0] if not key.startswith("b_")})
    )
    result = db.session.execute(statement, rows)
    if db.engine.dialect.supports_sane_multi_rowcount and result.rowcount != len(rows):
        raise Conflict("stale_version", "Some of these requests were changed meanwhile; nothing was assigned.")
    for state, row in zip(states, rows, strict=True):
        state.dict["updated_at"], state.dict["version"] = stamp, row["version"]
    # What the ORM does to the objects it has just flushed: their values become the stored ones, nothing dirty.
    InstanceState._commit_all_states([(state, state.dict) for state in states], db.session.identity_map)
    if stale:
        for sr in requests:
            db.session.expire(sr, stale)


def assign_many(pairs, actor, *, now: datetime | None = None) -> tuple[list[ServiceRequest], dict[int, ApiError]]:
    """Assign many requests at once: (request_id, engineer_id) or (request_id, engineer_id, reason) each.

    The same rules as perform(sr, "assign", ...) for each (TRANSITIONS rows, roles, payload checks; no
    version: internal callers such as automatic dispatch hold the rows locked already), but one locking
    query, one UPDATE batch and one INSERT batch for the events; then each request's signals, as perform
    sends them (event_added, status_changed), so subscribers see every change. Returns (the assigned
    requests in the order given, {request_id: the refusal} for the others, which are left unchanged).
    A subscriber that raises aborts the whole batch: the caller rolls back.

    Rows this transaction holds already (lock_requests, hold) are not read again; the others are, in one query.
    """
    now = now or utcnow()
    wanted = [(p[0], p[1], p[2] if len(p) > 2 else None) for p in pairs]
    if not wanted:
        return [], {}
    if len({request_id for request_id, _, _ in wanted}) != len(wanted):
        raise ValidationFailed(
            "validation_failed", "A request appears twice in the batch.", {"pairs": "Each request once."}
        )
    locked = _held(request_id for request_id, _, _ in wanted)
    to_lock = sorted(request_id for request_id, _, _ in wanted if request_id not in locked)
    if to_lock:
        locked.update(lock_requests(to_lock))
    _preload_engineers(engineer_id for _, engineer_id, _ in wanted)
    refused: dict[int, ApiError] = {}
    planned = []
    for request_id, engineer_id, reason in wanted:
        try:
            t, engineer = _check_assign(locked.get(request_id), request_id, actor, {"engineer_id": engineer_id})
        except ApiError as exc:
            refused[request_id] = exc
        else:
            planned.append((locked[request_id], t, engineer, reason))
    if not planned:
        return [], refused
    # The same change and event as perform's, row by row; then the batch's flush: one UPDATE for the requests, one
    # INSERT for the events. No autoflush meanwhile: the ORM would write the rows one UPDATE each.
    with db.session.no_autoflush:
        events = [
            _change(sr, t, actor, {"engineer_id": engineer.id, "reason": reason}, now, engineer=engineer)
            for sr, t, engineer, reason in planned
        ]
        _store_changes([sr for sr, _, _, _ in planned])
    insert_many(events)
    # The receivers' new rows (a message to each customer) are stored together too (signals: new_rows).
    new_rows: list = []
    for (sr, _t, _engineer, _reason), event in zip(planned, events, strict=True):
        _announce(sr, event, new_rows)
    insert_many(new_rows)
    log.info("%d requests assigned by %s in one batch, %d refused", len(planned), _who(actor), len(refused))
    return [sr for sr, _, _, _ in planned], refused


def _change(sr: ServiceRequest, t: Transition, actor, payload: dict, now: datetime, engineer=None, visit=None):
    """Make the change of *t* on *sr* (its effect, then the state) and return its timeline event, not yet stored."""
    from_status = sr.status
    step = Step(
        actor,
        payload,
        now,
        engineer,
        visit,
        note=payload.get("reason") or payload.get("note") or payload.get("comment"),
    )
    if t.effect is not None:
        EFFECTS[t.effect](sr, step)
    if t.target is not None:
        sr.status = t.target
        if t.target in UNOWNED:
            sr.engineer_id = None
            sr.assigned_at = None
            sr.arrived_at = None
        if t.action not in KEEPS_DEADLINE:
            sr.deadline_swept = sr.required_by <= now
    return _new_event(
        sr, t.action, actor, from_status, sr.status, step.note, step.data, at=now, actor_label=step.actor_label
    )


def _announce(sr: ServiceRequest, event: "RequestEvent | SweptEvent", new_rows: list | None = None) -> None:
    """Tell the subscribers of a stored change: the new event, and the new state if there is one. A batch passes
    *new_rows*, where the receivers put the rows they make, for the batch to store together (signals.py)."""
    signals.event_added.send(sr, event=event, new_rows=new_rows)
    if event.to_status != event.from_status:
        signals.status_changed.send(sr, event=event, new_rows=new_rows)


def _apply(sr: ServiceRequest, t: Transition, actor, payload: dict, now: datetime, engineer=None, visit=None):
    """Make the change of *t*, record its event and send the signals. Callers have checked everything."""
    later = _stored_later()
    if later is None:
        event = _change(sr, t, actor, payload, now, engineer=engineer, visit=visit)
        db.session.add(event)
        db.session.flush()
        _announce(sr, event)
    else:
        event = later.change(sr, lambda: _change(sr, t, actor, payload, now, engineer=engineer, visit=visit))
        later.keep(event)
        _announce(sr, event, later.rows)
    log.info("request %s %s by %s: %s -> %s", sr.number, t.action, _who(actor), event.from_status, sr.status)
    return event


def allowed_actions(sr: ServiceRequest, user) -> list[str]:
    """The actions (ACTIONS order) *user* may take on *sr* now: the buttons the console and the PWA show."""
    role = _role(user)
    allowed = []
    for action in ACTIONS:
        for t in transitions_for(action):
            if sr.status not in t.sources or role not in t.roles:
                continue
            if t.guard:
                try:
                    GUARDS[t.guard](sr, user)
                except Forbidden:
                    continue
            allowed.append(action)
            break
    return allowed


# ---------------------------------------------------------------- visits


def _image_from_data_url(value, field: str, kind: str) -> tuple[str, bytes]:
    """A photo or signature sent as a data: URL, checked and encoded again by core.images (the bytes decide)."""
    return clean_image(decode_data_url(value, field), field, kind)


def add_attachment(
    sr: ServiceRequest,
    kind: str,
    content_type: str,
    raw: bytes,
    actor,
    *,
    attachment_id: str | None = None,
    visit: Visit | None = None,
) -> Attachment:
    """Keep a photo or signature in the database; the same client-made id twice stores it once."""
    if attachment_id:
        existing = db.session.get(Attachment, attachment_id)
        if existing is not None:
            if existing.request_id != sr.id:
                raise Conflict("duplicate_attachment", "This attachment id belongs to another request.")
            return existing
    attachment = _new_attachment(sr, kind, content_type, raw, actor, attachment_id=attachment_id, visit=visit)
    db.session.flush()
    return attachment


def _new_attachment(sr, kind, content_type, raw, actor, *, attachment_id=None, visit=None) -> Attachment:
    """The attachment's row, added to the session (add_attachment flushes it; a visit with the visit's change)."""
    attachment = Attachment(
        id=attachment_id or str(uuid.uuid4()),
        request_id=sr.id,
        visit_id=visit.id if visit else None,
        kind=kind,
        content_type=content_type,
        data=raw,
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        uploaded_by_id=actor.id if actor else None,
        created_at=utcnow(),
    )
    db.session.add(attachment)
    return attachment


def _visit_fields(sr: ServiceRequest, data: dict, now: datetime) -> dict[str, str]:
    fields: dict[str, str] = {}
    if data.get("outcome") not in ("resolved", "unresolved"):
        fields["outcome"] = "resolved or unresolved."
    arrived, finished = data.get("arrived_at"), data.get("finished_at")
    for name, value in (("arrived_at", arrived), ("finished_at", finished)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            fields[name] = "A date and time with its offset."
        elif value > now + CLOCK_SKEW:
            fields[name] = "This time is in the future."
    if "arrived_at" not in fields and arrived < sr.created_at - CLOCK_SKEW:
        fields["arrived_at"] = "Before the request was logged."
    if not fields.keys() & {"arrived_at", "finished_at"} and finished < arrived:
        fields["finished_at"] = "Finished before arriving."
    try:
        hours = Decimal(str(data.get("labour_hours")))
        if not hours.is_finite() or hours < 0 or hours > 1000:
            fields["labour_hours"] = "Hours from 0 to 1000."
    except (InvalidOperation, ValueError):
        fields["labour_hours"] = "A number of hours."
    for i, cost in enumerate(data.get("costs") or []):
        if not (cost.get("kind") or "").strip():
            fields[f"costs.{i}.kind"] = "Required."
        try:
            amount = Decimal(str(cost.get("amount")))
            if not amount.is_finite() or amount < 0:
                fields[f"costs.{i}.amount"] = "An amount of 0 or more."
        except (InvalidOperation, ValueError):
            fields[f"costs.{i}.amount"] = "An amount of 0 or more."
    for i, part in enumerate(data.get("parts") or []):
        if not isinstance(part.get("part_id"), int):
            fields[f"parts.{i}.part_id"] = "Required."
        qty = part.get("qty")
        if not isinstance(qty, int | Decimal | float) or qty <= 0:
            fields[f"parts.{i}.qty"] = "A quantity above 0."
    return fields


def _uploaded_images(sr: ServiceRequest, data: dict, actor) -> tuple[Attachment | None, list[Attachment]]:
    """The signature and photos a visit names by id (`signature_id`, `photo_ids`): each uploaded beforehand for
    this request by *actor*, of its kind, and on no visit yet; refused as a whole otherwise."""
    wanted = [(data["signature_id"], "signature_id", SIGNATURE)] if data.get("signature_id") else []
    wanted += [(attachment_id, f"photo_ids.{i}", PHOTO) for i, attachment_id in enumerate(data.get("photo_ids") or [])]
    if not wanted:
        return None, []
    ids = [attachment_id for attachment_id, _field, _kind in wanted]
    found = {a.id: a for a in db.session.scalars(sa.select(Attachment).where(Attachment.id.in_(ids)))}
    signed = set(db.session.scalars(sa.select(Visit.signature_id).where(Visit.signature_id.in_(ids))))
    missing, wrong_kind, taken = {}, {}, {}
    for attachment_id, field, kind in wanted:
        attachment = found.get(attachment_id)
        if attachment is None or attachment.request_id != sr.id or attachment.uploaded_by_id != actor.id:
            missing[field] = "Not uploaded for this request by you."
        elif attachment.kind != kind:
            wrong_kind[field] = f"Uploaded as a {attachment.kind}, not a {kind}."
        elif attachment.visit_id is not None or attachment_id in signed:
            taken[field] = "Already on another visit."
    if missing:
        raise ValidationFailed(
            "attachment_missing",
            "Some photos or the signature have not reached the server for this request: "
            + ", ".join(sorted(missing))
            + ".",
            missing,
        )
    if wrong_kind:
        raise ValidationFailed(
            "validation_failed", "Some fields are not valid: " + ", ".join(sorted(wrong_kind)) + ".", wrong_kind
        )
    if taken:
        raise Conflict(
            "attachment_in_use",
            "Some photos or the signature belong to another visit: " + ", ".join(sorted(taken)) + ".",
            taken,
        )
    signature = found[data["signature_id"]] if data.get("signature_id") else None
    return signature, [found[attachment_id] for attachment_id in data.get("photo_ids") or []]


_VISITS_BY_OP = "requests_visits_by_op"


def preload_visits_by_op(op_ids) -> None:
    """Read the visit recorded under each of *op_ids* (client_op_id) in one query, for the rest of the transaction:
    a batch of the engineer's ops (sync) asks once, not once per visit."""
    op_ids = set(op_ids)
    if not op_ids:
        return
    known = transaction_cache(_VISITS_BY_OP)
    found = {v.client_op_id: v for v in db.session.scalars(sa.select(Visit).where(Visit.client_op_id.in_(op_ids)))}
    for op_id in op_ids:
        known[op_id] = found.get(op_id)


def record_visit(sr: ServiceRequest, data: dict, actor, version: int | None = None, *, now=None) -> Visit:
    """Record the assigned engineer's visit (rule 4): solved -> resolved, else awaiting or locked (3b)."""
    now = now or utcnow()
    op_id = data.get("client_op_id")
    if op_id:
        known = transaction_cache(_VISITS_BY_OP)
        if op_id in known:
            existing = known.pop(op_id)  # once: the visit made below carries it from now on
        else:
            existing = db.session.scalar(sa.select(Visit).where(Visit.client_op_id == op_id))
        if existing is not None:
            if existing.request_id != sr.id:
                raise Conflict("duplicate_op", "This operation id was used for another request.")
            return existing
    sr = _lock(sr)
    # Role and state first (403, 409), whatever the outcome; the outcome picks the row once the data is valid.
    t = choose_transition(sr, "visit", actor, {"outcome": "resolved"})
    check_version(sr, version)
    GUARDS[t.guard](sr, actor)
    fields = _visit_fields(sr, data, now)
    signature = photos = None
    if not fields:
        try:
            signature = (
                _image_from_data_url(data["signature"], "signature", SIGNATURE) if data.get("signature") else None
            )
            photos = [_image_from_data_url(p, f"photos.{i}", PHOTO) for i, p in enumerate(data.get("photos") or [])]
        except ValidationFailed as exc:
            fields.update(exc.fields)
    if fields:
        raise ValidationFailed(
            "validation_failed", "Some fields are not valid: " + ", ".join(sorted(fields)) + ".", fields
        )
    uploaded_signature, uploaded_photos = _uploaded_images(sr, data, actor)

    t = choose_transition(sr, "visit", actor, data)
    with within_savepoint():
        visit = Visit(
            request_id=sr.id,
            engineer_id=sr.engineer_id,
            arrived_at=data["arrived_at"],
            finished_at=data["finished_at"],
            labour_hours=Decimal(str(data["labour_hours"])).quantize(Decimal("0.01")),
            fault_id=data.get("fault_id"),
            fault=data.get("fault"),
            cause=data.get("cause"),
            solution=data.get("solution"),
            outcome=data["outcome"],
            created_by_id=actor.id,
            client_op_id=op_id,
            costs=[
                VisitCost(kind=c["kind"].strip(), amount=Decimal(str(c["amount"])), note=c.get("note"))
                for c in data.get("costs") or []
            ],
        )
        later = _stored_later()
        if later is not None:
            visit.id = later.next_id(Visit)
        db.session.add(visit)
        if later is None:
            db.session.flush()  # the visit's id, which its images and its event name
        # The images are stored by the next flush, with the visit's link to its signature: the unit of work inserts
        # an attachment before the visit that names it (a visit of a TimelineStoredLater run is stored then too).
        if signature:
            visit.signature_id = _new_attachment(sr, "signature", *signature, actor, visit=visit).id
        for content_type, raw in photos:
            _new_attachment(sr, "photo", content_type, raw, actor, visit=visit)
        # Uploaded beforehand: the same rows a data-URL makes, linked to the visit the same way.
        if uploaded_signature is not None:
            uploaded_signature.visit_id = visit.id
            visit.signature_id = uploaded_signature.id
        for attachment in uploaded_photos:
            attachment.visit_id = visit.id
        _apply(sr, t, actor, {"note": data.get("note")}, now, visit=visit)
        if later is None:
            signals.visit_recorded.send(visit, request=sr, data=data)
        else:
            signals.visit_recorded.send(visit, request=sr, data=data, new_rows=later.rows)
    log.info("visit %s on %s recorded by %s: %s", visit.id, sr.number, actor.username, visit.outcome)
    return visit


# ---------------------------------------------------------------- the sweep

# Rows per statement: a backlog is worked through in sets this large, each locked, changed and recorded at once.
SWEEP_BATCH = 1000


@dataclass(frozen=True)
class _TimeRule:
    """One time rule as a set operation: the rows it is due on, what it writes on them (what _change and the
    transition's effect would write row by row), and its timeline entry's data from the row as it was."""

    action: str
    condition: sa.ColumnElement[bool]
    values: dict
    data: object  # (engineer_id before) -> the event's data


def _time_rules(now: datetime) -> tuple[_TimeRule, ...]:
    # lock and release go to a state nobody owns (states.UNOWNED): the engineer lets go; their condition has the
    # required date passed, so the rules 3a and 4 are done with (deadline_swept, as _change sets it).
    let_go = {"engineer_id": None, "assigned_at": None, "arrived_at": None, "deadline_swept": True}
    return (
        # 3a: nobody was assigned by the customer's required date.
        _TimeRule(
            "lock",
            sa.and_(
                ServiceRequest.status == AWAITING,
                ServiceRequest.required_by <= now,
                ~ServiceRequest.deadline_swept,
            ),
            {"status": LOCKED, **let_go},
            lambda _engineer_id: note_data("lock"),
        ),
        # 4: the engineer has not handled it (not on site) by the required date.
        _TimeRule(
            "release",
            sa.and_(
                ServiceRequest.status == ASSIGNED,
                ServiceRequest.required_by <= now,
                ~ServiceRequest.deadline_swept,
                ServiceRequest.arrived_at.is_(None),
            ),
            {"status": AWAITING, **let_go},
            lambda engineer_id: {"engineer_id": engineer_id, **note_data("release")},
        ),
        _TimeRule(
            "response_breach",
            sa.and_(
                ServiceRequest.status.in_(tuple(ACTIVE)),
                ServiceRequest.response_due <= now,
                ServiceRequest.responded_at.is_(None),
                ~ServiceRequest.response_breached,
            ),
            {"response_breached": True},
            lambda _engineer_id: note_data("response_breach"),
        ),
        _TimeRule(
            "resolution_breach",
            sa.and_(
                ServiceRequest.status.in_(tuple(ACTIVE)),
                ServiceRequest.resolution_due <= now,
                ~ServiceRequest.resolution_breached,
            ),
            {"resolution_breached": True},
            lambda _engineer_id: note_data("resolution_breach"),
        ),
    )


def _due_ids(rule: _TimeRule) -> list[int]:
    """The ids of the rows *rule* is due on, read through the rule's indexes (status and due time), unlocked."""
    return list(db.session.scalars(sa.select(ServiceRequest.id).where(rule.condition).order_by(ServiceRequest.id)))


def _sweep_batch(rule: _TimeRule, ids: list[int]) -> list[tuple[ServiceRequest, str, int | None]]:
    """Change those of the rows *ids* that *rule* is still due on in one UPDATE ... RETURNING: (the request as
    stored now, its status and engineer before), by id. Each row's version is bumped and updated_at set, as a
    flush of the ORM would."""
    changes = {**rule.values, "version": ServiceRequest.version + 1, "updated_at": utcnow()}
    options = {"synchronize_session": False, "populate_existing": True}
    before = sa.select(
        ServiceRequest.id,
        ServiceRequest.status.label("status_before"),
        ServiceRequest.engineer_id.label("engineer_before"),
    ).where(ServiceRequest.id.in_(ids), rule.condition)
    if db.session.get_bind().dialect.name == "postgresql":
        # Rows someone is changing right now are skipped (SKIP LOCKED): the next minute's sweep takes them. A row
        # changed and committed since the ids were read is read again once locked, and left out unless still due.
        due = before.with_for_update(skip_locked=True).cte("due")
        statement = (
            sa.update(ServiceRequest)
            .where(ServiceRequest.id == due.c.id)
            .values(changes)
            .returning(ServiceRequest, due.c.status_before, due.c.engineer_before)
        )
        changed = [tuple(row) for row in db.session.execute(statement, execution_options=options)]
        return sorted(changed, key=lambda change: change[0].id)
    # SQLite has one writer at a time and no FROM in RETURNING: the rows as they were, then the one UPDATE.
    was = {row.id: (row.status_before, row.engineer_before) for row in db.session.execute(before)}
    if not was:
        return []
    statement = (
        sa.update(ServiceRequest).where(ServiceRequest.id.in_(list(was))).values(changes).returning(ServiceRequest)
    )
    stored = db.session.scalars(statement, execution_options=options).all()
    return sorted(((sr, *was[sr.id]) for sr in stored), key=lambda change: change[0].id)


@dataclass(frozen=True, slots=True)
class SweptEvent:
    """A timeline entry the sweep stored, as its receivers read it: the columns of the RequestEvent row (the
    sweep writes thousands a minute; a mapped object each, built and then stored by the ORM, was a third of its
    time at 1,000,000 requests). Read-only: what a receiver writes goes in rows of its own."""

    id: int | None
    request_id: int
    at: datetime
    actor_id: None
    actor_label: str
    action: str
    from_status: str | None
    to_status: str | None
    note: None
    data: dict | None


def _swept_event(request_id, at, action, from_status, to_status, data) -> SweptEvent:
    """The entry _new_event makes for a change by nobody (actor None: "system"), not yet stored (no id)."""
    return SweptEvent(None, request_id, at, None, "system", action, from_status, to_status, None, data)


_EVENT_COLUMNS = SweptEvent.__match_args__[1:]  # its fields but the id


def _insert_swept_events(events: list[SweptEvent]) -> list[SweptEvent]:
    """Store *events* as request_events rows; the same entries with their ids, in the same order.

    On PostgreSQL the ids are drawn from the table's sequence in one query and the rows written by one COPY,
    each value through its column's type as an INSERT would bind it (4,500 entries, bench/requests_list.py:
    ~60 ms of CPU against ~250 ms built as mapped objects and stored by insert_many). Elsewhere one INSERT ...
    RETURNING."""
    if not events:
        return []
    table = RequestEvent.__table__
    rows = [{column: getattr(event, column) for column in _EVENT_COLUMNS} for event in events]
    connection = db.session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = connection.execute(statement, rows).scalars().all()
        return [replace(event, id=new_id) for event, new_id in zip(events, ids, strict=True)]
    ids = connection.scalars(
        sa.text("SELECT nextval(pg_get_serial_sequence('request_events', 'id')) FROM generate_series(1, :n)"),
        {"n": len(events)},
    ).all()
    columns = ("id", *_EVENT_COLUMNS)
    binds = [table.c[column].type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
    with (
        connection.connection.dbapi_connection.cursor() as cursor,
        cursor.copy(f"COPY request_events ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for new_id, row in zip(ids, rows, strict=True):
            values = (new_id, *row.values())
            copy.write_row([value if bind is None else bind(value) for bind, value in zip(binds, values, strict=True)])
    return [replace(event, id=new_id) for event, new_id in zip(events, ids, strict=True)]


def sweep_requests(now: datetime, *, batch: int = SWEEP_BATCH) -> int:
    """The time rules (API.md): 3a lock, 4 release, SLA breach flags. Only due rows; idempotent.

    In sets: each rule reads the ids it is due on (its indexes), then, in batches of *batch* of them, is one
    UPDATE ... RETURNING of the rows still due it can lock, one write of their timeline events (a COPY on
    PostgreSQL; the receivers get them as SweptEvent) and one INSERT of what the subscribers make of them
    (messages, webhook deliveries), the signals sent for each change as perform sends them. The rules run in this
    order, each on what the one before left (a request locked now is flagged late by the breach rules of the same
    run)."""
    changed = 0
    for rule in _time_rules(now):
        (t,) = transitions_for(rule.action)
        due = _due_ids(rule)
        for start in range(0, len(due), batch):
            rows = _sweep_batch(rule, due[start : start + batch])
            if not rows:
                continue
            events = _insert_swept_events(
                [
                    _swept_event(sr.id, now, t.action, status_before, sr.status, rule.data(engineer_before))
                    for sr, status_before, engineer_before in rows
                ]
            )
            # No savepoint per row: a subscriber's refusal aborts the whole run, and the next minute retries it.
            new_rows: list = []
            for (sr, _status, _engineer), event in zip(rows, events, strict=True):
                _announce(sr, event, new_rows)
            insert_many(new_rows)
            changed += len(rows)
            log.info("sweep %s: %d requests", t.action, len(rows))
    fold_request_counts()
    return changed


# ---------------------------------------------------------------- problem types


def create_problem_type(data: dict, actor) -> ProblemType:
    if db.session.scalar(sa.select(ProblemType.id).where(ProblemType.code == data["code"])):
        raise ValidationFailed("duplicate", "That code exists already.", {"code": "That code exists already."})
    problem_type = ProblemType(**data)
    db.session.add(problem_type)
    db.session.flush()
    log.info("problem type %s created by %s", problem_type.code, _who(actor))
    return problem_type


def update_problem_type(problem_type: ProblemType, data: dict, actor) -> ProblemType:
    check_version(problem_type, data.pop("version", None))
    data.pop("code", None)  # the code is what requests refer to: it never changes
    for key, value in data.items():
        setattr(problem_type, key, value)
    db.session.flush()
    log.info("problem type %s updated by %s: %s", problem_type.code, _who(actor), sorted(data))
    return problem_type


def problem_types(active_only: bool = True) -> list[ProblemType]:
    query = sa.select(ProblemType).order_by(ProblemType.sort_order, ProblemType.code)
    if active_only:
        query = query.where(ProblemType.active)
    return list(db.session.scalars(query))


def timeline(sr: ServiceRequest) -> list[RequestEvent]:
    """The request's timeline in the order things happened: a visit recorded offline arrives later than it was made."""
    return list(
        db.session.scalars(
            sa.select(RequestEvent).where(RequestEvent.request_id == sr.id).order_by(RequestEvent.at, RequestEvent.id)
        )
    )


def problem_type_counts() -> dict[str, int]:
    """How many requests were logged per problem type (rule 1's counters)."""
    return dict(
        db.session.execute(sa.select(ProblemTypeRequestCount.problem_type, ProblemTypeRequestCount.count)).all()
    )


def surveys(sr: ServiceRequest) -> list[Survey]:
    return list(db.session.scalars(sa.select(Survey).where(Survey.request_id == sr.id).order_by(Survey.id)))


# The statuses in which a request counts against its engineer's cap: they own it until it is resolved or
# returned.
LOAD_STATUSES = (ASSIGNED, LOCKED)


def open_load(engineer_ids) -> dict[int, int]:
    """How many open jobs each engineer holds now (every id is in the answer, 0 when none)."""
    ids = list(engineer_ids)
    loads = dict.fromkeys(ids, 0)
    if not ids:
        return loads
    rows = db.session.execute(
        sa.select(ServiceRequest.engineer_id, sa.func.count())
        .where(ServiceRequest.engineer_id.in_(ids), ServiceRequest.status.in_(LOAD_STATUSES))
        .group_by(ServiceRequest.engineer_id)
    )
    loads.update({engineer_id: count for engineer_id, count in rows})
    return loads
