"""Complaints: the only writers of complaints and their timeline. Operations flush, log, never commit."""

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from fieldservice.auth.models import User
from fieldservice.complaints.models import Complaint, ComplaintAction
from fieldservice.complaints.states import (
    ACTION_KINDS,
    ACTIONS,
    CHANNELS,
    DESK,
    DUE_HOURS,
    MANAGE,
    NOBODY,
    OPEN,
    SEVERITIES,
    STATUS_LABELS,
    TYPES,
    UNCLOSED,
    Transition,
    label,
    note_data,
    roles_for,
    transitions_for,
)
from fieldservice.core import numbering
from fieldservice.core.clock import site_zone
from fieldservice.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.core.models import check_version, utcnow
from fieldservice.core.search import contains_text
from fieldservice.customers.models import Customer
from fieldservice.engineers.models import Engineer
from fieldservice.extensions import db
from fieldservice.parts.models import Part
from fieldservice.requests.models import ServiceRequest, Visit

log = logging.getLogger("fieldservice.complaints")

TEXT_FIELDS = ("summary", "description")


def _who(actor) -> str:
    return actor.username if actor is not None else "system"


def _role(actor) -> str:
    return str(actor.role) if actor is not None else NOBODY


def _invalid(fields: dict) -> ValidationFailed:
    return ValidationFailed(
        "validation_failed", "Some fields are not valid: " + ", ".join(sorted(fields)) + ".", fields
    )


def due_hours(severity: str) -> float:
    hours = {**DUE_HOURS, **(current_app.config.get("FIELDSERVICE_COMPLAINT_DUE_HOURS") or {})}
    return float(hours[severity])


def next_number(at: datetime) -> str:
    """TS-YYYYMMDD-NNNN, numbered per day in the site's time zone."""

    day = at.astimezone(site_zone()).strftime("%Y%m%d")
    return numbering.next_number(f"TS-{day}")


# ---------------------------------------------------------------- lookups


def get_complaint(complaint_id: int) -> Complaint:
    complaint = db.session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound("not_found", f"No complaint with id {complaint_id}.")
    return complaint


def filter_complaints(
    *, status=None, kind=None, severity=None, escalated=None, handler_id=None, customer_id=None, q=None
) -> sa.Select:
    """Complaints, newest first, narrowed by the list filters of the API and the console.

    `escalated` looks at the unclosed ones: past their due time (True) or not (False).
    """
    query = sa.select(Complaint)
    for column, value in (
        (Complaint.status, status),
        (Complaint.kind, kind),
        (Complaint.severity, severity),
        (Complaint.handler_id, handler_id),
        (Complaint.customer_id, customer_id),
    ):
        if value:
            query = query.where(column == value)
    if escalated is not None:
        query = query.where(Complaint.escalated.is_(escalated), Complaint.status.in_(tuple(UNCLOSED)))
    if q and q.strip():
        query = query.where(
            contains_text(q, Complaint.number, Complaint.summary, Complaint.description, Complaint.contact_phone)
        )
    return query.order_by(Complaint.created_at.desc(), Complaint.id.desc())


def count(query: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))


def counts_by(column: str, start: datetime | None = None, end: datetime | None = None) -> dict[str, int]:
    """How many complaints were logged per type (or severity, status...) in [start, end): for analytics."""
    col = getattr(Complaint, column)
    query = sa.select(col, sa.func.count()).group_by(col)
    if start is not None:
        query = query.where(Complaint.created_at >= start)
    if end is not None:
        query = query.where(Complaint.created_at < end)
    return dict(db.session.execute(query).all())


def handlers() -> list:
    """The users a complaint can be assigned to."""
    return list(
        db.session.scalars(
            sa.select(User).where(User.active, User.role.in_(tuple(DESK))).order_by(User.role, User.username)
        )
    )


# ---------------------------------------------------------------- intake


def _link_fields(data: dict) -> dict[str, str]:
    """Check that the optional links (customer, request, engineer, part) name existing rows."""
    fields = {}
    for name, model in (
        ("customer_id", Customer),
        ("request_id", ServiceRequest),
        ("engineer_id", Engineer),
        ("part_id", Part),
    ):
        if data.get(name) is not None and db.session.get(model, data[name]) is None:
            fields[name] = "No such record."
    sr = db.session.get(ServiceRequest, data["request_id"]) if data.get("request_id") else None
    if sr is not None and data.get("customer_id") and sr.customer_id != data["customer_id"]:
        fields["request_id"] = "This request belongs to another customer."
    return fields


def create_complaint(data: dict, actor, *, now: datetime | None = None) -> Complaint:
    """Log a complaint from any channel; its due time follows its severity."""
    now = now or utcnow()
    if _role(actor) not in DESK:
        raise Forbidden("forbidden", f"Your role ({_role(actor)}) may not log complaints.")
    fields = _link_fields(data)
    for name, table in (("kind", TYPES), ("severity", SEVERITIES), ("channel", CHANNELS)):
        if data.get(name) not in table:
            fields[name] = "Not one of the listed values."
    for name in TEXT_FIELDS:
        if not (data.get(name) or "").strip():
            fields[name] = "Required."
    if not (data.get("customer_id") or data.get("request_id") or (data.get("contact_phone") or "").strip()):
        fields["customer_id"] = "Give the customer, the request or a contact phone."
    if fields:
        raise _invalid(fields)
    sr = db.session.get(ServiceRequest, data["request_id"]) if data.get("request_id") else None
    complaint = Complaint(
        number=next_number(now),
        channel=data["channel"],
        kind=data["kind"],
        severity=data["severity"],
        summary=data["summary"].strip()[:200],
        description=data["description"].strip(),
        customer_id=data.get("customer_id") or (sr.customer_id if sr else None),
        contact_name=data.get("contact_name"),
        contact_phone=data.get("contact_phone"),
        request_id=data.get("request_id"),
        # A complaint about a job is about the engineer who did it, unless told otherwise.
        engineer_id=data.get("engineer_id") or (_last_engineer(sr) if sr else None),
        part_id=data.get("part_id"),
        status=OPEN,
        due_at=now + timedelta(hours=due_hours(data["severity"])),
        created_by_id=actor.id,
        created_at=now,
    )
    db.session.add(complaint)
    db.session.flush()
    add_action(complaint, "create", actor, None, OPEN, note=complaint.summary, at=now)
    if data.get("handler_id"):
        perform(complaint, "assign", actor, complaint.version, now=now, handler_id=data["handler_id"])
    log.info("complaint %s %s logged by %s", complaint.id, complaint.number, _who(actor))
    return complaint


def _last_engineer(sr) -> int | None:
    return sr.engineer_id or db.session.scalar(
        sa.select(Visit.engineer_id).where(Visit.request_id == sr.id).order_by(Visit.id.desc()).limit(1)
    )


# ---------------------------------------------------------------- the timeline


def add_action(
    complaint: Complaint,
    action: str,
    actor,
    from_status,
    to_status,
    *,
    note=None,
    kind=None,
    data=None,
    at=None,
) -> ComplaintAction:
    entry = ComplaintAction(
        complaint_id=complaint.id,
        at=at or utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_label=(actor.display_name if actor is not None else "system")[:120],
        action=action,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def timeline(complaint: Complaint) -> list[ComplaintAction]:
    return list(
        db.session.scalars(
            sa.select(ComplaintAction)
            .where(ComplaintAction.complaint_id == complaint.id)
            .order_by(ComplaintAction.id)
        )
    )


# ---------------------------------------------------------------- transitions


def _lock(complaint: Complaint) -> Complaint:
    locked = db.session.scalars(
        sa.select(Complaint)
        .where(Complaint.id == complaint.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if locked is None:
        raise NotFound("not_found", f"No complaint with id {complaint.id}.")
    return locked


def _guard_handler_or_manager(complaint: Complaint, actor) -> None:
    if _role(actor) in MANAGE or (actor is not None and complaint.handler_id == actor.id):
        return
    raise Forbidden("not_handler", "Only the complaint's handler or a manager may do this.")


GUARDS = {"handler_or_manager": _guard_handler_or_manager}


def choose_transition(complaint: Complaint, action: str, actor) -> Transition:
    """The row *actor* would take now, or the refusal: 404 unknown action, 403 role, 409 state."""
    rows = transitions_for(action)
    if not rows:
        raise NotFound("unknown_action", f"There is no action {action!r}.")
    role = _role(actor)
    if role not in roles_for(action):
        raise Forbidden("forbidden", f"Your role ({role}) may not {action} a complaint.")
    here = [t for t in rows if complaint.status in t.sources and role in t.roles]
    if not here:
        raise Conflict(
            "illegal_transition",
            f"Cannot {action} this complaint: it is {complaint.status}.",
            current_status=complaint.status,
        )
    return here[0]


def _check_payload(t: Transition, payload: dict):
    """Validate what the action needs; returns the new handler for assign."""
    fields = {}
    for name in t.requires:
        value = payload.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            fields[name] = "Required for this action."
    handler = None
    if "handler_id" in t.requires and "handler_id" not in fields:
        handler = db.session.get(User, payload["handler_id"])
        if handler is None or not handler.active or str(handler.role) not in DESK:
            fields["handler_id"] = "No active user with this id who can handle complaints."
    if "kind" in t.requires and "kind" not in fields and payload["kind"] not in ACTION_KINDS:
        fields["kind"] = "Not one of the listed values."
    if fields:
        raise _invalid(fields)
    return handler


def perform(
    complaint: Complaint, action: str, actor, version: int | None = None, *, now=None, **payload
) -> Complaint:
    """Take *action* on *complaint* per TRANSITIONS; a refusal (409, 403, 422) changes nothing."""
    now = now or utcnow()
    complaint = _lock(complaint)
    t = choose_transition(complaint, action, actor)
    check_version(complaint, version)
    handler = _check_payload(t, payload)
    if t.guard:
        GUARDS[t.guard](complaint, actor)
    with db.session.begin_nested():
        _apply(complaint, t, actor, payload, now, handler)
    return complaint


def _apply(complaint: Complaint, t: Transition, actor, payload: dict, now: datetime, handler=None) -> None:
    from_status = complaint.status
    note = payload.get("note") or payload.get("reason")
    data = None
    if t.action == "assign":
        complaint.handler_id = handler.id
        data = {"handler_id": handler.id, "handler_name": handler.display_name}
        note = note or handler.display_name
    elif t.action == "close":
        complaint.outcome = payload["outcome"].strip()
        complaint.customer_feedback = payload["customer_feedback"].strip()
        complaint.customer_satisfied = payload.get("customer_satisfied")
        complaint.closed_at = now
        note = complaint.outcome
        data = {
            "customer_feedback": complaint.customer_feedback,
            "customer_satisfied": complaint.customer_satisfied,
        }
    elif t.action == "reopen":
        complaint.closed_at = None
    elif t.action == "escalate":
        complaint.escalated = True
        complaint.escalated_at = now
        data = {"due_at": complaint.due_at.isoformat(), "severity": complaint.severity, **note_data("overdue")}
    if t.target is not None:
        complaint.status = t.target
    db.session.flush()
    add_action(
        complaint,
        t.action,
        actor,
        from_status,
        complaint.status,
        note=note,
        kind=payload.get("kind"),
        data=data,
        at=now,
    )
    log.info(
        "complaint %s %s by %s: %s -> %s",
        complaint.number,
        t.action,
        _who(actor),
        from_status,
        complaint.status,
    )


def allowed_actions(complaint: Complaint, user) -> list[str]:
    """The actions *user* may take on *complaint* now: the console's forms and the API's hints."""
    allowed = []
    role = _role(user)
    for action in ACTIONS:
        for t in transitions_for(action):
            if complaint.status not in t.sources or role not in t.roles:
                continue
            if t.guard:
                try:
                    GUARDS[t.guard](complaint, user)
                except Forbidden:
                    continue
            allowed.append(action)
            break
    return allowed


# ---------------------------------------------------------------- the sweep


def sweep_complaints(now: datetime) -> int:
    """Escalate unclosed complaints past their due time, once each; rows being edited wait a minute."""
    (t,) = transitions_for("escalate")
    due = db.session.scalars(
        sa.select(Complaint)
        .where(Complaint.status.in_(tuple(UNCLOSED)), Complaint.due_at <= now, ~Complaint.escalated)
        .order_by(Complaint.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    for complaint in due:
        with db.session.begin_nested():
            _apply(complaint, t, None, {}, now)
    return len(due)


def status_label(status: str) -> str:
    return label(STATUS_LABELS, status)
