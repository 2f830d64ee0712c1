"""The dashboard's figures, each one SQL aggregation over the requests the filters select.

Once the rollups are built (analytics/rollups.py) the request figures read them, as of their last refresh; the
recount below each stays the reference a test compares them with, and what a database without rollups shows.

Every table is a TableSpec (title, columns, a function Filters -> rows), so the console, the CSV export and
the
JSON API show the same numbers from the same code.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l

from fieldservice.analytics import rollups
from fieldservice.analytics.filters import Filters, scope_requests, scoped_request_ids, seconds_between
from fieldservice.appointments.models import CANCELLED as CANCELLED_APPOINTMENT
from fieldservice.appointments.models import KEPT, MISSED, Appointment
from fieldservice.auth.models import User
from fieldservice.complaints.models import Complaint
from fieldservice.complaints.states import CLOSED
from fieldservice.complaints.states import TYPES as COMPLAINT_TYPES
from fieldservice.contracts.models import Agreement, AgreementType
from fieldservice.core.models import utcnow
from fieldservice.customers.categories import category_label
from fieldservice.customers.models import Customer, Product
from fieldservice.engineers.models import Engineer
from fieldservice.extensions import db
from fieldservice.parts.models import Part, ReturnOrder, SupplierClaim, VisitPart
from fieldservice.requests.forms import CHANNEL_LABELS
from fieldservice.requests.models import ProblemType, ServiceRequest, Survey, Visit
from fieldservice.requests.states import CANCELLED, OPEN, RESOLVED, REVISITED, status_label
from fieldservice.settlement.claims import acceptance_by_supplier
from fieldservice.settlement.models import RepairItem, Verification, VisitItem
from fieldservice.settlement.operations import verified_visits

# DOMAIN.md "Analytics": the targets the articles name. SLA compliance has none there: the project's own,
# settable.
DEFAULT_TARGETS = {
    "first_time_fix": 85.0,
    "first_response_minutes": 30.0,
    "first_response_urgent_minutes": 15.0,
    "sla_compliance": 95.0,
    "satisfaction": 90.0,
}
LOW_SCORE = 3  # a survey score at or below this gets a human follow-up


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: object
    columns: tuple[tuple[str, object], ...]  # (key, label)
    rows: Callable[[Filters], list[dict]]
    chart: str | None = None  # the column charted against the axis
    axis: str | None = None  # the column that names the chart's bars; the first one when not given
    codes: tuple[str, ...] = ()  # columns holding codes (identifiers shown as they are, never translated)


# The units of the KPIs, as a reader says them (the API and CSV keep the short codes).
UNIT_LABELS = {"min": _l("minutes"), "h": _l("hours"), "%": "%"}


def _percent(part, whole) -> float | None:
    return round(100.0 * float(part) / float(whole), 1) if whole else None


def _round(value, digits: int = 1) -> float | None:
    return round(float(value), digits) if value is not None else None


def _pt_label():
    return ProblemType.name_en if str(get_locale()) == "en" else ProblemType.name_zh


# ---------------------------------------------------------------- the request tables


def _counts_by(*keys) -> sa.Select:
    """Requests and open requests grouped by *keys* of service_requests: aggregate first, join the labels
    after."""
    count = sa.func.count(ServiceRequest.id)
    return sa.select(
        *keys, count.label("requests"), count.filter(ServiceRequest.status.in_(tuple(OPEN))).label("open")
    ).group_by(*keys)


def _rolled_counts(dimension: str, f: Filters, name: str, column: str = "key") -> sa.Subquery:
    """The shape of _counts_by (the breakdown as *name*, requests, open), from the rollups."""
    rows = rollups.source(dimension, f)
    return (
        sa.select(
            rows.c[column].label(name),
            rollups.total(rows.c.requests).label("requests"),
            rollups.total(rows.c.open).label("open"),
        )
        .group_by(rows.c[column])
        .subquery()
    )


def requests_by_problem_type(f: Filters, recount: bool = False) -> list[dict]:
    if rollups.ready() and not recount:
        counts = _rolled_counts("problem_type", f, "problem_type")
    else:
        counts = scope_requests(_counts_by(ServiceRequest.problem_type), f).subquery()
    query = (
        sa.select(counts.c.problem_type, _pt_label(), counts.c.requests, counts.c.open)
        .outerjoin(ProblemType, ProblemType.code == counts.c.problem_type)
        .order_by(counts.c.requests.desc(), counts.c.problem_type)
    )
    return [
        {"problem_type": code, "label": label or code, "requests": n, "open": n_open}
        for code, label, n, n_open in db.session.execute(query)
    ]


def requests_by_product(f: Filters, recount: bool = False) -> list[dict]:
    if rollups.ready() and not recount:
        counts = _rolled_counts("product", f, "product_id", "ref_id")
    else:
        counts = scope_requests(_counts_by(ServiceRequest.product_id), f).subquery()
    query = (
        sa.select(Product.id, Product.name, Product.model, Product.category, counts.c.requests, counts.c.open)
        .join(counts, counts.c.product_id == Product.id)
        .order_by(counts.c.requests.desc(), Product.model)
    )
    return [
        {
            "product_id": pid,
            "product": name,
            "model": model,
            "category": category_label(cat),
            "requests": n,
            "open": n_open,
        }
        for pid, name, model, cat, n, n_open in db.session.execute(query)
    ]


def requests_by_agreement(f: Filters, recount: bool = False) -> list[dict]:
    """Per agreement type; requests without an agreement fall under their coverage (warranty, none)."""
    sr = ServiceRequest
    count = sa.func.count(sr.id)
    breached = count.filter(sa.or_(sr.response_breached, sr.resolution_breached), sr.status != CANCELLED)
    if rollups.ready() and not recount:
        rows = rollups.source("agreement", f)
        counts = (
            sa.select(
                rows.c.ref_id.label("agreement_id"),  # 0: none, which no agreement's id is
                rows.c.key.label("coverage"),
                rollups.total(rows.c.countable).label("n"),
                rollups.total(rows.c.breached).label("breached"),
            )
            .group_by(rows.c.ref_id, rows.c.key)
            .subquery()
        )
    else:
        counts = scope_requests(
            sa.select(
                sr.agreement_id,
                sr.coverage,
                count.filter(sr.status != CANCELLED).label("n"),
                breached.label("breached"),
            ).group_by(sr.agreement_id, sr.coverage),
            f,
        ).subquery()
    key = sa.func.coalesce(AgreementType.name, Agreement.name, counts.c.coverage)
    total = sa.func.sum(counts.c.n)
    query = (
        sa.select(key, total, sa.func.sum(counts.c.breached))
        .select_from(counts)
        .outerjoin(Agreement, Agreement.id == counts.c.agreement_id)
        .outerjoin(AgreementType, AgreementType.id == Agreement.type_id)
        .group_by(key)
        .order_by(total.desc(), key)
    )
    return [
        {
            "agreement": str(COVERAGE_LABELS.get(name, name)),
            "requests": int(n),
            "breached": int(n_breached),
            "sla_compliance": _percent(n - n_breached, n),
        }
        for name, n, n_breached in db.session.execute(query)
    ]


COVERAGE_LABELS = {"none": _l("No coverage"), "warranty": _l("Warranty"), "agreement": _l("Agreement")}


def requests_by_service_item(f: Filters, recount: bool = False) -> list[dict]:
    """Per service item: the kind of work of the problem type (repair, installation, maintenance, other)."""
    sr = ServiceRequest
    count = sa.func.count(sr.id)
    if rollups.ready() and not recount:
        rows = rollups.source("problem_type", f)
        counts = (
            sa.select(
                rows.c.key.label("problem_type"),
                rollups.total(rows.c.requests).label("n"),
                rollups.total(rows.c.covered).label("covered"),
            )
            .group_by(rows.c.key)
            .subquery()
        )
    else:
        counts = scope_requests(
            sa.select(
                sr.problem_type, count.label("n"), count.filter(sr.coverage == "agreement").label("covered")
            ).group_by(sr.problem_type),
            f,
        ).subquery()
    item = sa.func.coalesce(ProblemType.category, "other")
    total = sa.func.sum(counts.c.n)
    query = (
        sa.select(item, total, sa.func.sum(counts.c.covered))
        .select_from(counts)
        .outerjoin(ProblemType, ProblemType.code == counts.c.problem_type)
        .group_by(item)
        .order_by(total.desc(), item)
    )
    return [
        {
            "service_item": str(SERVICE_ITEM_LABELS.get(name, name)),
            "requests": int(n),
            "under_agreement": int(n_covered),
        }
        for name, n, n_covered in db.session.execute(query)
    ]


def requests_by_channel(f: Filters, recount: bool = False) -> list[dict]:
    """Per intake channel (phone, WeChat, the QR page...)."""
    if rollups.ready() and not recount:
        counts = _rolled_counts("channel", f, "channel")
    else:
        counts = scope_requests(_counts_by(ServiceRequest.channel), f).subquery()
    query = sa.select(counts).order_by(counts.c.requests.desc(), counts.c.channel)
    rows = db.session.execute(query).all()
    total = sum(n for _, n, _ in rows)
    return [
        {
            "channel": code,
            "label": str(CHANNEL_LABELS.get(code, code)),
            "requests": n,
            "open": n_open,
            "share": _percent(n, total),
        }
        for code, n, n_open in rows
    ]


SERVICE_ITEM_LABELS = {
    "repair": _l("Repair"),
    "installation": _l("Installation"),
    "maintenance": _l("Maintenance"),
    "other": _l("Other"),
}


def requests_by_day(f: Filters, recount: bool = False) -> list[dict]:
    if rollups.ready() and not recount:
        rows = rollups.source("all", f, by_day=True)
        query = (
            sa.select(rows.c.period, rollups.total(rows.c.requests), rollups.total(rows.c.resolved))
            .group_by(rows.c.period)
            .order_by(rows.c.period)
        )
    else:
        day = sa.func.date(ServiceRequest.created_at)
        count = sa.func.count(ServiceRequest.id)
        query = scope_requests(
            sa.select(day, count, count.filter(ServiceRequest.resolved_at.is_not(None))).group_by(day).order_by(day),
            f,
        )
    return [{"day": str(d), "requests": n, "resolved": n_resolved} for d, n, n_resolved in db.session.execute(query)]


# ---------------------------------------------------------------- parts and complaints


def parts_summary(f: Filters) -> list[dict]:
    """Per part: units used on visits (repairs), faulty units returned, and supplier claims, for the
    requests in
    scope (each counted at its own date)."""
    used = (
        sa.select(VisitPart.part_id.label("part_id"), sa.func.sum(VisitPart.qty).label("n"))
        .join(Visit, Visit.id == VisitPart.visit_id)
        .where(Visit.request_id.in_(scoped_request_ids(f)))
        .group_by(VisitPart.part_id)
    )
    used = _dated(used, VisitPart.created_at, f).subquery()
    returned = sa.select(
        ReturnOrder.part_id.label("part_id"),
        sa.func.sum(ReturnOrder.qty).label("n"),
        sa.func.sum(ReturnOrder.refurbished_qty).label("refurbished"),
        sa.func.sum(ReturnOrder.scrapped_qty).label("scrapped"),
    ).group_by(ReturnOrder.part_id)
    returned = _dated(_in_scope(returned, ReturnOrder.request_id, f), ReturnOrder.removed_at, f).subquery()
    claimed = (
        sa.select(
            SupplierClaim.part_id.label("part_id"),
            sa.func.sum(SupplierClaim.qty).label("n"),
            sa.func.sum(SupplierClaim.claimed_amount).label("claimed"),
            sa.func.sum(SupplierClaim.accepted_amount).label("accepted"),
        )
        .join(ReturnOrder, ReturnOrder.id == SupplierClaim.return_order_id)
        .group_by(SupplierClaim.part_id)
    )
    claimed = _dated(_in_scope(claimed, ReturnOrder.request_id, f), SupplierClaim.created_at, f).subquery()
    query = (
        sa.select(
            Part.part_number,
            Part.name,
            used.c.n,
            returned.c.n,
            returned.c.refurbished,
            returned.c.scrapped,
            claimed.c.n,
            claimed.c.claimed,
            claimed.c.accepted,
        )
        .outerjoin(used, used.c.part_id == Part.id)
        .outerjoin(returned, returned.c.part_id == Part.id)
        .outerjoin(claimed, claimed.c.part_id == Part.id)
        .where(sa.or_(used.c.n.is_not(None), returned.c.n.is_not(None), claimed.c.n.is_not(None)))
        .order_by(sa.func.coalesce(used.c.n, 0).desc(), Part.part_number)
    )
    return [
        {
            "part": code,
            "name": name,
            "used": n_used or 0,
            "returned": n_ret or 0,
            "refurbished": n_ref or 0,
            "scrapped": n_scr or 0,
            "claimed": n_cl or 0,
            "claimed_amount": _round(amount, 2) or 0.0,
            "accepted_amount": _round(accepted, 2) or 0.0,
        }
        for code, name, n_used, n_ret, n_ref, n_scr, n_cl, amount, accepted in db.session.execute(query)
    ]


def _dated(query, column, f: Filters):
    if f.start is not None:
        query = query.where(column >= f.start)
    if f.end is not None:
        query = query.where(column < f.end)
    return query


def _in_scope(query, request_column, f: Filters):
    # Returns and claims without a request (stock found faulty in a warehouse) count only when nothing narrows
    # the view to a zone or a category.
    if f.zone or f.category:
        query = query.where(request_column.in_(scoped_request_ids(f)))
    return query


def complaints_by_type(f: Filters) -> list[dict]:
    """Complaints logged in the date range per type; a zone is the customer's, a category the request's."""
    c = Complaint
    count = sa.func.count(c.id)
    query = (
        sa.select(c.kind, count, count.filter(c.status != CLOSED), count.filter(c.escalated))
        .group_by(c.kind)
        .order_by(count.desc(), c.kind)
    )
    query = _dated(query, c.created_at, f)
    if f.zone:
        query = query.where(c.customer_id.in_(sa.select(Customer.id).where(Customer.zone == f.zone)))
    if f.category:
        query = query.where(c.request_id.in_(scoped_request_ids(Filters(category=f.category))))
    return [
        {
            "type": kind,
            "label": str(COMPLAINT_TYPES.get(kind, kind)),
            "complaints": n,
            "open": n_open,
            "escalated": n_escalated,
        }
        for kind, n, n_open, n_escalated in db.session.execute(query)
    ]


# ---------------------------------------------------------------- engineers and KPIs


def _request_measures() -> dict:
    """The aggregate columns over service_requests shared by the KPIs and the engineer table."""
    sr = ServiceRequest
    count = sa.func.count(sr.id)
    response = seconds_between(sr.responded_at, sr.created_at)
    return {
        "jobs": count,
        "resolved": count.filter(sr.resolved_at.is_not(None)),
        "visited": count.filter(sr.visit_count >= 1),
        "first_fix": count.filter(sr.resolved_at.is_not(None), sr.visit_count == 1),
        "response_s": sa.func.avg(response),
        "urgent_response_s": sa.func.avg(sa.case((sr.priority == 1, response))),
        "resolution_s": sa.func.avg(seconds_between(sr.resolved_at, sr.created_at)),
    }


def _survey_measures(f: Filters, *keys) -> sa.Select:
    """Surveys of the requests in scope (grouped by *keys* of service_requests): how many, satisfied, low
    scores."""
    low = sa.or_(Survey.timeliness <= LOW_SCORE, Survey.attitude <= LOW_SCORE, Survey.quality <= LOW_SCORE)
    count = sa.func.count(Survey.id)
    query = sa.select(
        *keys,
        count.label("surveys"),
        count.filter(Survey.satisfied).label("satisfied"),
        count.filter(low).label("low_scores"),
    )
    if not keys and f == Filters():
        return query  # every survey: no need to read the requests
    query = query.join(ServiceRequest, ServiceRequest.id == Survey.request_id)
    return scope_requests(query.group_by(*keys) if keys else query, f)


def engineer_performance(f: Filters, recount: bool = False) -> list[dict]:
    sr = ServiceRequest
    if rollups.ready() and not recount:
        rows = rollups.source("engineer", f)
        measures = {
            **rollups.request_measures(rows),
            "surveys": rollups.total(rows.c.surveys),
            "satisfied": rollups.total(rows.c.satisfied),
            "low_scores": rollups.total(rows.c.low_scores),
        }
        jobs = (
            sa.select(rows.c.ref_id.label("engineer_id"), *[c.label(k) for k, c in measures.items()])
            .where(rows.c.ref_id != 0)
            .group_by(rows.c.ref_id)
            .subquery()
        )
        surveys = jobs
    else:
        jobs = scope_requests(
            sa.select(sr.engineer_id, *[c.label(k) for k, c in _request_measures().items()])
            .where(sr.engineer_id.is_not(None))
            .group_by(sr.engineer_id),
            f,
        ).subquery()
        surveys = _survey_measures(f, sr.engineer_id).where(sr.engineer_id.is_not(None)).subquery()
    query = (
        sa.select(
            Engineer.id,
            Engineer.name,
            Engineer.zone,
            *[jobs.c[k] for k in ("jobs", "resolved", "visited", "first_fix")],
            *[jobs.c[k] for k in ("response_s", "urgent_response_s", "resolution_s")],
            surveys.c.surveys,
            surveys.c.satisfied,
            surveys.c.low_scores,
        )
        .join(jobs, jobs.c.engineer_id == Engineer.id)
        .order_by(jobs.c.jobs.desc(), Engineer.name)
    )
    if surveys is not jobs:
        query = query.outerjoin(surveys, surveys.c.engineer_id == Engineer.id)
    return [
        {
            "engineer_id": r["id"],
            "engineer": r["name"],
            "zone": r["zone"] or "",
            "jobs": r["jobs"],
            "resolved": r["resolved"],
            "completion_rate": _percent(r["resolved"], r["jobs"]),
            "first_time_fix": _percent(r["first_fix"], r["visited"]),
            "response_minutes": _minutes(r["response_s"]),
            "resolution_hours": _hours(r["resolution_s"]),
            "satisfaction": _percent(r["satisfied"] or 0, r["surveys"]),
            "low_scores": r["low_scores"] or 0,
        }
        for r in db.session.execute(query).mappings()
    ]


def _minutes(seconds) -> float | None:
    return _round(float(seconds) / 60) if seconds is not None else None


def _hours(seconds) -> float | None:
    return _round(float(seconds) / 3600) if seconds is not None else None


def targets() -> dict:
    return {**DEFAULT_TARGETS, **current_app.config.get("ANALYTICS_TARGETS", {})}


def _overview_measures(f: Filters) -> dict:
    """The overview's counts and averages, in two queries."""
    sr = ServiceRequest
    measures = _request_measures()
    count = measures["jobs"]
    measures.update(
        open=count.filter(sr.status.in_(tuple(OPEN))),
        closed=count.filter(sr.status.in_((RESOLVED, REVISITED))),
        cancelled=count.filter(sr.status == CANCELLED),
        breached=count.filter(sa.or_(sr.response_breached, sr.resolution_breached), sr.status != CANCELLED),
        countable=count.filter(sr.status != CANCELLED),
        self_service=count.filter(sr.channel == "qr"),
    )
    query = sa.select(*[c.label(k) for k, c in measures.items()]).select_from(sr)
    r = {**db.session.execute(scope_requests(query, f)).mappings().one()}
    r.update(db.session.execute(_survey_measures(f)).mappings().one())
    return r


def _rolled_overview_measures(f: Filters) -> dict:
    rows = rollups.source("all", f)
    measures = rollups.request_measures(rows)
    for name in ("open", "closed", "cancelled", "breached", "countable", "surveys", "satisfied", "low_scores"):
        measures[name] = rollups.total(rows.c[name])
    return {**db.session.execute(sa.select(*[c.label(k) for k, c in measures.items()])).mappings().one()}


def overview(f: Filters, recount: bool = False) -> dict:
    """The totals and the KPIs of DOMAIN.md against their targets."""
    rolled = rollups.ready() and not recount
    r = _rolled_overview_measures(f) if rolled else _overview_measures(f)
    if "self_service" not in r:
        # The rollups count channels in their own rows: the QR labels' row is the self-service total.
        r["self_service"] = next((c["requests"] for c in requests_by_channel(f, recount) if c["channel"] == "qr"), 0)
    goal = targets()
    kpis = [
        _kpi(
            "first_time_fix",
            _l("First-time fix rate"),
            _percent(r["first_fix"], r["visited"]),
            "%",
            goal,
            ">=",
        ),
        _kpi("first_response_minutes", _l("First response time"), _minutes(r["response_s"]), "min", goal, "<="),
        _kpi(
            "first_response_urgent_minutes",
            _l("First response time, urgent"),
            _minutes(r["urgent_response_s"]),
            "min",
            goal,
            "<=",
        ),
        _kpi("resolution_hours", _l("Resolution time"), _hours(r["resolution_s"]), "h", goal, "<="),
        _kpi(
            "sla_compliance",
            _l("SLA compliance"),
            _percent(r["countable"] - r["breached"], r["countable"]),
            "%",
            goal,
            ">=",
        ),
        _kpi(
            "satisfaction",
            _l("Customer satisfaction"),
            _percent(r["satisfied"], r["surveys"]),
            "%",
            goal,
            ">=",
        ),
    ]
    return {
        "totals": {
            "requests": r["jobs"],
            "open": r["open"],
            "resolved": r["closed"],
            "cancelled": r["cancelled"],
            "surveys": r["surveys"],
            "low_scores": r["low_scores"],
            "self_service": r["self_service"],
        },
        # Requests the customers logged themselves from their units' QR labels, of all requests.
        "self_service_share": _percent(r["self_service"], r["jobs"]),
        "kpis": kpis,
        "by_status": requests_by_status(f, recount),
    }


KPI_COLUMNS = (
    ("label", _l("KPI")),
    ("value", _l("Value")),
    ("unit", _l("Unit")),
    ("op", _l("Compared")),
    ("target", _l("Target")),
    ("met", _l("Met")),
)


def _kpi(key: str, label, value, unit: str, goal: dict, op: str) -> dict:
    target = goal.get(key)
    met = None
    if target is not None and value is not None:
        met = value >= target if op == ">=" else value <= target
    return {
        "key": key,
        "label": str(label),
        "value": value,
        "unit": unit,
        "target": target,
        "op": op,
        "met": met,
    }


def requests_by_status(f: Filters, recount: bool = False) -> list[dict]:
    if rollups.ready() and not recount:
        rows = rollups.source("status", f)
        count = rollups.total(rows.c.requests)
        query = sa.select(rows.c.key, count).group_by(rows.c.key).order_by(count.desc(), rows.c.key)
    else:
        count = sa.func.count(ServiceRequest.id)
        query = scope_requests(
            sa.select(ServiceRequest.status, count)
            .group_by(ServiceRequest.status)
            .order_by(count.desc(), ServiceRequest.status),
            f,
        )
    return [{"status": s, "label": status_label(s), "requests": n} for s, n in db.session.execute(query)]


# ---------------------------------------------------------------- settlement (核销): verified visits only


def _verifications(f: Filters) -> sa.Select:
    """The verifications of the visits finished in the date range, in the zone and category."""
    query = sa.select(Verification.id).join(Visit, Visit.id == Verification.visit_id)
    return _in_scope(_dated(query, Visit.finished_at, f), Verification.request_id, f)


def _hours_number(value) -> float:
    return _round(float(value or 0), 2) or 0.0


def verification_by_engineer(f: Filters) -> list[dict]:
    """Per engineer: visits verified, waiting, returned for correction (the share of visits returned at least
    once), the lead time from the visit's end to its approval, and the standard against the actual hours of the
    verified visits."""
    v = Verification
    scope = _verifications(f).subquery()
    returned_once = sa.or_(v.rounds > 1, v.status == "returned")
    lead = seconds_between(v.decided_at, Visit.finished_at)
    counts = (
        sa.select(
            v.engineer_id,
            sa.func.count().label("visits"),
            sa.func.count().filter(v.status == "approved").label("verified"),
            sa.func.count().filter(v.status != "approved").label("waiting"),
            sa.func.count().filter(returned_once).label("returned"),
            sa.func.avg(sa.case((v.status == "approved", lead))).label("lead_s"),
            sa.func.sum(sa.case((v.status == "approved", Visit.labour_hours))).label("actual"),
        )
        .join(Visit, Visit.id == v.visit_id)
        .where(v.id.in_(sa.select(scope.c.id)))
        .group_by(v.engineer_id)
        .subquery()
    )
    standard = (
        sa.select(v.engineer_id, sa.func.sum(VisitItem.standard_hours * VisitItem.quantity).label("standard"))
        .join(VisitItem, VisitItem.visit_id == v.visit_id)
        .where(v.id.in_(sa.select(scope.c.id)), v.status == "approved")
        .group_by(v.engineer_id)
        .subquery()
    )
    query = (
        sa.select(Engineer.id, Engineer.name, counts, standard.c.standard)
        .join(counts, counts.c.engineer_id == Engineer.id)
        .outerjoin(standard, standard.c.engineer_id == Engineer.id)
        .order_by(counts.c.visits.desc(), Engineer.name)
    )
    return [
        {
            "engineer_id": r["id"],
            "engineer": r["name"],
            "visits": r["visits"],
            "verified": r["verified"],
            "waiting": r["waiting"],
            "returned_rate": _percent(r["returned"], r["visits"]),
            "lead_hours": _hours(r["lead_s"]),
            "standard_hours": _hours_number(r["standard"]),
            "actual_hours": _hours_number(r["actual"]),
            "actual_vs_standard": _percent(r["actual"] or 0, r["standard"]) if r["standard"] else None,
        }
        for r in db.session.execute(query).mappings()
    ]


def hours_by_repair_item(f: Filters) -> list[dict]:
    """Per repair item, over the verified visits: times done, standard hours, and the actual hours the visits
    took, shared among their items by each item's part of the visit's standard."""
    scope = _verifications(f).where(Verification.status == "approved").subquery()
    line_standard = VisitItem.standard_hours * VisitItem.quantity
    visit_standard = (
        sa.select(VisitItem.visit_id, sa.func.sum(VisitItem.standard_hours * VisitItem.quantity).label("total"))
        .group_by(VisitItem.visit_id)
        .subquery()
    )
    share = sa.case((visit_standard.c.total > 0, Visit.labour_hours * line_standard / visit_standard.c.total), else_=0)
    query = (
        sa.select(
            RepairItem.code,
            RepairItem.name_zh,
            RepairItem.name_en,
            sa.func.sum(VisitItem.quantity).label("done"),
            sa.func.sum(line_standard).label("standard"),
            sa.func.sum(share).label("actual"),
        )
        .join(VisitItem, VisitItem.repair_item_id == RepairItem.id)
        .join(Visit, Visit.id == VisitItem.visit_id)
        .join(visit_standard, visit_standard.c.visit_id == Visit.id)
        .join(Verification, Verification.visit_id == Visit.id)
        .where(Verification.id.in_(sa.select(scope.c.id)))
        .group_by(RepairItem.id, RepairItem.code, RepairItem.name_zh, RepairItem.name_en)
        .order_by(sa.func.sum(VisitItem.quantity).desc(), RepairItem.code)
    )
    english = str(get_locale()).startswith("en")
    return [
        {
            "code": r["code"],
            "item": r["name_en"] if english else r["name_zh"],
            "done": int(r["done"]),
            "standard_hours": _hours_number(r["standard"]),
            "actual_hours": _hours_number(r["actual"]),
            "actual_vs_standard": _percent(r["actual"] or 0, r["standard"]) if r["standard"] else None,
        }
        for r in db.session.execute(query).mappings()
    ]


def verified_costs_by_engineer(f: Filters) -> list[dict]:
    """What the verified visits cost, per engineer: labour by the standard, parts and other costs. Visits that
    wait for verification or were returned do not count."""
    scope = _verifications(f).where(Verification.status == "approved")
    figures = verified_visits_in(scope).subquery()
    query = (
        sa.select(
            Engineer.name,
            sa.func.count(),
            sa.func.sum(figures.c.labour_amount),
            sa.func.sum(figures.c.parts_amount),
            sa.func.sum(figures.c.costs_amount),
            sa.func.sum(figures.c.amount),
        )
        .join(figures, figures.c.engineer_id == Engineer.id)
        .group_by(Engineer.id, Engineer.name)
        .order_by(sa.func.sum(figures.c.amount).desc(), Engineer.name)
    )
    return [
        {
            "engineer": name,
            "visits": n,
            "labour": _round(labour, 2) or 0.0,
            "parts": _round(parts, 2) or 0.0,
            "costs": _round(costs, 2) or 0.0,
            "total": _round(total, 2) or 0.0,
        }
        for name, n, labour, parts, costs, total in db.session.execute(query)
    ]


def verified_visits_in(scope: sa.Select) -> sa.Select:
    """settlement's figures of each verified visit, for the verifications *scope* selects."""
    return verified_visits(None, verification_ids=scope)


def claims_by_supplier(f: Filters) -> list[dict]:
    """Claims to each supplier decided in the date range (warranty claims and returned parts' claims): claimed,
    accepted, and the share of the claimed amount accepted."""
    return [
        {
            "supplier": row["supplier"],
            "claims": row["claims"],
            "claimed": _round(row["claimed"], 2) or 0.0,
            "accepted": _round(row["accepted"], 2) or 0.0,
            "acceptance_rate": _percent(row["accepted"], row["claimed"]),
        }
        for row in acceptance_by_supplier(f.start, f.end)
    ]


# ---------------------------------------------------------------- appointments (预约上门)

# Why a window was changed (改约), told from the rows themselves: what became of the window it replaced, and who
# set the new one.
RESCHEDULE_CAUSES = {
    "customer_asked": _l("The customer asked for another window"),
    "after_missed": _l("Booked again after a missed window"),
    "engineer": _l("Changed by the engineer"),
    "dispatch": _l("Changed by the dispatch desk"),
}


def _appointments_in_scope(f: Filters) -> sa.Select:
    """The appointments whose window starts in the date range, of the requests in the zone and category."""
    a = Appointment
    query = sa.select(a.id).join(ServiceRequest, ServiceRequest.id == a.request_id)
    return scope_requests(query, f, at=a.starts_at)


def _appointment_measures(*keys, f: Filters) -> sa.Select:
    """Per *keys*: appointments booked, kept, kept on time (arrived by the window's end), missed, changed."""
    a = Appointment
    count = sa.func.count(a.id)
    query = (
        sa.select(
            *keys,
            count.filter(a.status != CANCELLED_APPOINTMENT).label("appointments"),
            count.filter(a.status == KEPT).label("kept"),
            count.filter(a.status == KEPT, a.closed_at <= a.ends_at).label("on_time"),
            count.filter(a.status == MISSED).label("missed"),
            count.filter(a.reschedules > 0).label("reschedules"),
        )
        .join(ServiceRequest, ServiceRequest.id == a.request_id)
        .group_by(*keys)
    )
    return scope_requests(query, f, at=a.starts_at)


def _appointment_row(r) -> dict:
    done = r["kept"] + r["missed"]
    return {
        "appointments": r["appointments"],
        "kept": r["kept"],
        "on_time": r["on_time"],
        "on_time_rate": _percent(r["on_time"], done),
        "missed": r["missed"],
        "missed_rate": _percent(r["missed"], done),
        "reschedules": r["reschedules"],
    }


def appointments_by_engineer(f: Filters) -> list[dict]:
    """Each engineer's appointments: kept on time (of those that came due), missed, changed."""
    measures = _appointment_measures(Appointment.engineer_id, f=f).subquery()
    query = (
        sa.select(Engineer.name, Engineer.zone, measures)
        .join(measures, measures.c.engineer_id == Engineer.id)
        .order_by(measures.c.appointments.desc(), Engineer.name)
    )
    return [
        {"engineer": r["name"], "zone": r["zone"] or "", **_appointment_row(r)}
        for r in db.session.execute(query).mappings()
    ]


def appointments_by_zone(f: Filters) -> list[dict]:
    """The same by the customer's zone (where the visit was)."""
    zone = sa.func.coalesce(Customer.zone, "")
    query = _appointment_measures(zone.label("zone"), f=f).join(Customer, Customer.id == ServiceRequest.customer_id)
    rows = [{"zone": r["zone"], **_appointment_row(r)} for r in db.session.execute(query).mappings()]
    return sorted(rows, key=lambda r: (-r["appointments"], r["zone"]))


def reschedules_by_cause(f: Filters) -> list[dict]:
    """Changed windows (改约) by cause: each row that replaced another, by what became of the one before (the
    customer had asked for another, or it was missed) or else by who set the new one."""
    a = Appointment
    previous = sa.func.lag
    window = {"partition_by": a.request_id, "order_by": a.id}
    rows = (
        sa.select(
            a.id,
            a.reschedules,
            a.starts_at,
            a.request_id,
            User.role.label("role"),
            previous(a.status).over(**window).label("previous_status"),
            previous(a.change_requested_at).over(**window).label("previous_asked"),
        )
        .outerjoin(User, User.id == a.set_by_id)
        .where(a.request_id.in_(_appointments_in_scope(f).with_only_columns(Appointment.request_id)))
        .subquery()
    )
    cause = sa.case(
        (rows.c.previous_asked.is_not(None), "customer_asked"),
        (rows.c.previous_status == MISSED, "after_missed"),
        (rows.c.role == "engineer", "engineer"),
        else_="dispatch",
    ).label("cause")
    query = sa.select(cause, sa.func.count()).where(rows.c.reschedules > 0)
    query = _dated(query, rows.c.starts_at, f).group_by(cause)
    counts = dict(db.session.execute(query).tuples().all())
    total = sum(counts.values())
    return [
        {
            "cause": code,
            "label": str(label),
            "reschedules": counts.get(code, 0),
            "share": _percent(counts.get(code, 0), total),
        }
        for code, label in RESCHEDULE_CAUSES.items()
    ]


_APPOINTMENT_COLUMNS = (
    ("appointments", _l("Appointments")),
    ("kept", _l("Kept")),
    ("on_time", _l("Kept on time")),
    ("on_time_rate", _l("On time %")),
    ("missed", _l("Missed")),
    ("missed_rate", _l("Missed %")),
    ("reschedules", _l("Reschedules")),
)


# ---------------------------------------------------------------- the tables, in dashboard order

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "problem_types",
            _l("Requests by problem type"),
            (
                ("problem_type", _l("Code")),
                ("label", _l("Problem type")),
                ("requests", _l("Requests")),
                ("open", _l("Open")),
            ),
            requests_by_problem_type,
            chart="requests",
            axis="label",
            codes=("problem_type",),
        ),
        TableSpec(
            "products",
            _l("Requests by product"),
            (
                ("product", _l("Product")),
                ("model", _l("Model")),
                ("category", _l("Category")),
                ("requests", _l("Requests")),
                ("open", _l("Open")),
            ),
            requests_by_product,
            chart="requests",
        ),
        TableSpec(
            "agreements",
            _l("Requests by agreement"),
            (
                ("agreement", _l("Agreement")),
                ("requests", _l("Requests")),
                ("breached", _l("SLA breached")),
                ("sla_compliance", _l("SLA compliance %")),
            ),
            requests_by_agreement,
            chart="requests",
        ),
        TableSpec(
            "service_items",
            _l("Requests by service item"),
            (
                ("service_item", _l("Service item")),
                ("requests", _l("Requests")),
                ("under_agreement", _l("Under agreement")),
            ),
            requests_by_service_item,
            chart="requests",
        ),
        TableSpec(
            "channels",
            _l("Requests by channel"),
            (("label", _l("Channel")), ("requests", _l("Requests")), ("open", _l("Open")), ("share", _l("Share %"))),
            requests_by_channel,
            chart="requests",
        ),
        TableSpec(
            "trend",
            _l("Requests per day"),
            (("day", _l("Day")), ("requests", _l("Requests")), ("resolved", _l("Resolved"))),
            requests_by_day,
            chart="requests",
        ),
        TableSpec(
            "parts",
            _l("Parts used, returned and claimed"),
            (
                ("part", _l("Part code")),
                ("name", _l("Part")),
                ("used", _l("Used in repairs")),
                ("returned", _l("Returned faulty")),
                ("refurbished", _l("Refurbished")),
                ("scrapped", _l("Scrapped")),
                ("claimed", _l("Claimed from supplier")),
                ("claimed_amount", _l("Claimed amount")),
                ("accepted_amount", _l("Accepted amount")),
            ),
            parts_summary,
            chart="used",
        ),
        TableSpec(
            "complaints",
            _l("Complaints by type"),
            (
                ("label", _l("Complaint type")),
                ("complaints", _l("Complaints")),
                ("open", _l("Open")),
                ("escalated", _l("Escalated")),
            ),
            complaints_by_type,
            chart="complaints",
        ),
        TableSpec(
            "verification",
            _l("Verification by engineer"),
            (
                ("engineer", _l("Engineer")),
                ("visits", _l("Resolved visits")),
                ("verified", _l("Verified")),
                ("waiting", _l("Waiting or returned")),
                ("returned_rate", _l("Returned for correction %")),
                ("lead_hours", _l("Verification lead time (h)")),
                ("standard_hours", _l("Standard hours")),
                ("actual_hours", _l("Actual hours")),
                ("actual_vs_standard", _l("Actual vs standard %")),
            ),
            verification_by_engineer,
            chart="actual_vs_standard",
        ),
        TableSpec(
            "repair_items",
            _l("Actual against standard hours by repair item"),
            (
                ("code", _l("Code")),
                ("item", _l("Repair item")),
                ("done", _l("Times done")),
                ("standard_hours", _l("Standard hours")),
                ("actual_hours", _l("Actual hours")),
                ("actual_vs_standard", _l("Actual vs standard %")),
            ),
            hours_by_repair_item,
            chart="actual_vs_standard",
            axis="item",
            codes=("code",),
        ),
        TableSpec(
            "verified_costs",
            _l("Cost of the verified visits by engineer"),
            (
                ("engineer", _l("Engineer")),
                ("visits", _l("Verified visits")),
                ("labour", _l("Labour")),
                ("parts", _l("Parts")),
                ("costs", _l("Costs")),
                ("total", _l("Total")),
            ),
            verified_costs_by_engineer,
            chart="total",
        ),
        TableSpec(
            "claims_by_supplier",
            _l("Claim acceptance by supplier"),
            (
                ("supplier", _l("Supplier")),
                ("claims", _l("Decided claims")),
                ("claimed", _l("Claimed")),
                ("accepted", _l("Accepted")),
                ("acceptance_rate", _l("Acceptance rate %")),
            ),
            claims_by_supplier,
            chart="acceptance_rate",
        ),
        TableSpec(
            "engineers",
            _l("Engineer performance"),
            (
                ("engineer", _l("Engineer")),
                ("zone", _l("Zone")),
                ("jobs", _l("Jobs")),
                ("resolved", _l("Resolved")),
                ("completion_rate", _l("Completion %")),
                ("first_time_fix", _l("First-time fix %")),
                ("response_minutes", _l("Response (min)")),
                ("resolution_hours", _l("Resolution (h)")),
                ("satisfaction", _l("Satisfaction %")),
                ("low_scores", _l("Low scores")),
            ),
            engineer_performance,
            chart="jobs",
        ),
        TableSpec(
            "appointments_engineers",
            _l("Appointments by engineer"),
            (("engineer", _l("Engineer")), ("zone", _l("Zone")), *_APPOINTMENT_COLUMNS),
            appointments_by_engineer,
            chart="on_time_rate",
        ),
        TableSpec(
            "appointments_zones",
            _l("Appointments by zone"),
            (("zone", _l("Zone")), *_APPOINTMENT_COLUMNS),
            appointments_by_zone,
            chart="on_time_rate",
        ),
        TableSpec(
            "reschedules",
            _l("Reschedules by cause"),
            (("label", _l("Why it changed")), ("reschedules", _l("Reschedules")), ("share", _l("Share %"))),
            reschedules_by_cause,
            chart="reschedules",
        ),
    )
}


# The tables read from the rollups once built; parts and complaints count their own rows.
ROLLED_UP = {"problem_types", "products", "agreements", "service_items", "channels", "trend", "engineers"}


def table(name: str, f: Filters, recount: bool = False) -> dict:
    """One table; *recount*: from the requests even when the rollups are built (the tests' reference)."""
    spec = TABLES[name]
    rows = spec.rows(f, recount) if spec.name in ROLLED_UP else spec.rows(f)
    return {
        "name": spec.name,
        "title": str(spec.title),
        "columns": [{"key": k, "label": str(label)} for k, label in spec.columns],
        "rows": rows,
        "chart": spec.chart,
        "axis": spec.axis or spec.columns[0][0],
        "codes": list(spec.codes),
    }


def dashboard(f: Filters, recount: bool = False) -> dict:
    """Everything the dashboard shows: the overview with KPIs, then every table."""
    parts = _gather([lambda: overview(f, recount)] + [lambda name=name: table(name, f, recount) for name in TABLES])
    current = None if recount else rollups.state()
    return {
        "filters": f.as_dict(),
        **parts[0],
        # Kept for the API's readers: the complaints domain is always there now.
        "complaints_available": True,
        "tables": parts[1:],
        # When the figures were counted: the rollups' last refresh, or now (a recount).
        "as_of": current.refreshed_at if current is not None else utcnow(),
    }


def _gather(funcs: list) -> list:
    """Run *funcs* and return their results in order: on PostgreSQL side by side, each on its own connection
    (the figures are independent reads, and the dashboard waits for the slowest instead of the sum)."""
    workers = current_app.config.get("ANALYTICS_PARALLEL", 4)
    if workers < 2 or db.session.get_bind().dialect.name != "postgresql":
        return [fn() for fn in funcs]
    app, locale = current_app._get_current_object(), str(get_locale())

    def run(fn):
        with app.app_context(), force_locale(locale):
            return fn()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, funcs))


def zones() -> list[str]:
    return [z for z in db.session.scalars(sa.select(Customer.zone).distinct().order_by(Customer.zone)) if z]


def categories() -> list[str]:
    return list(
        db.session.scalars(
            sa.select(ServiceRequest.service_category).distinct().order_by(ServiceRequest.service_category)
        )
    )
