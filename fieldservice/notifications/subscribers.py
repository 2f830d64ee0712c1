"""What the outbox hears: the request loop's signals and the part requests' timeline. Each handler adds
rows to
the transaction of the change (a refused change takes its messages with it)."""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import format_datetime
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from fieldservice.appointments.operations import BOOKED_EVENT, CHANGED_EVENT, MISSED_EVENT
from fieldservice.auth.models import Role, User
from fieldservice.extensions import db
from fieldservice.notifications import messages
from fieldservice.notifications import operations as ops
from fieldservice.parts.models import PartRequestEvent
from fieldservice.reports import signals as report_signals
from fieldservice.requests import signals
from fieldservice.requests.states import ASSIGNED, RESOLVED, REVISITED

_NEW_PART_EVENTS = "notifications_new_part_request_events"


def request_payload(sr) -> dict:
    return {
        "request": {
            "id": sr.id,
            "number": sr.number,
            "status": sr.status,
            "priority": sr.priority,
            "customer_id": sr.customer_id,
            "product_id": sr.product_id,
            "equipment_id": sr.equipment_id,
            "problem_type": sr.problem_type,
            "engineer_id": sr.engineer_id,
            "visit_count": sr.visit_count,
            "version": sr.version,
        }
    }


def _event_payload(sr, event) -> dict:
    return {
        **request_payload(sr),
        "event": {
            "id": event.id,
            "action": event.action,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "at": event.at.isoformat(),
            "actor": event.actor_label,
        },
    }


@signals.request_created.connect
def on_request_created(sr, **_):
    ops.notify_customer(sr, "created", f"sr{sr.id}:created", fresh=True)
    ops.emit("request.created", request_payload(sr))


@signals.status_changed.connect
def on_status_changed(sr, event=None, new_rows=None, **_):
    ops.emit("request.status_changed", _event_payload(sr, event), new_rows=new_rows)
    key = f"ev{event.id}"
    if event.to_status == ASSIGNED:
        name = (event.data or {}).get("engineer_name") or (sr.engineer.name if sr.engineer else "")
        ops.notify_customer(sr, "assigned", key, fresh=True, new_rows=new_rows, engineer=name)
    elif event.to_status == RESOLVED:
        ops.notify_customer(sr, "resolved", key, fresh=True, new_rows=new_rows, report_url=messages.CUSTOMER_LINK)
    elif event.action == "revisit":
        event_name = "revisited" if event.to_status == REVISITED else "reopened"
        ops.notify_customer(sr, event_name, key, fresh=True, new_rows=new_rows)


@signals.event_added.connect
def on_event_added(sr, event=None, new_rows=None, **_):
    if event.action == "depart":
        engineer = sr.engineer.name if sr.engineer else ""
        ops.notify_customer(sr, "on_the_way", f"ev{event.id}", fresh=True, new_rows=new_rows, engineer=engineer)
    if event.action in (BOOKED_EVENT, CHANGED_EVENT):
        ops.notify_customer(
            sr,
            event.action,
            f"ev{event.id}",
            fresh=True,
            new_rows=new_rows,
            engineer=event.data.get("engineer_name", ""),
            window=_window(event.data),
        )
    elif event.action == MISSED_EVENT:
        managers = db.session.scalars(sa.select(User).where(User.role == str(Role.MANAGER), User.active))
        ops.notify_staff(managers, sr, "appointment_missed", f"ev{event.id}", window=_window(event.data))
    if event.to_status == event.from_status or event.to_status is None:
        # Steps that change no state (accept, depart, arrive, urge, breaches) still interest integrators.
        ops.emit("request.event", _event_payload(sr, event), new_rows=new_rows)


@signals.visit_recorded.connect
def on_visit_recorded(visit, request=None, **_):
    ops.emit(
        "visit.finished",
        {
            **request_payload(request),
            "visit": {
                "id": visit.id,
                "outcome": visit.outcome,
                "engineer_id": visit.engineer_id,
                "arrived_at": visit.arrived_at.isoformat(),
                "finished_at": visit.finished_at.isoformat(),
                "labour_hours": str(visit.labour_hours),
            },
        },
    )


@report_signals.fresh_link_requested.connect
def on_fresh_link_requested(sr, phone=None, event_id=None, **_):
    # One message per ask (its timeline event): a customer whose first message went astray may ask again.
    ops.notify_number(sr, "fresh_link", f"ev{event_id}", phone, report_url=messages.CUSTOMER_LINK)


def _window(data: dict) -> str:
    """The appointment's window in the site's time, as the customer reads it: 2026-12-08 09:00–11:00."""
    start, end = (datetime.fromisoformat(data[key]) for key in ("start", "end"))
    return f"{format_datetime(start, 'yyyy-MM-dd HH:mm')}–{format_datetime(end, 'HH:mm')}"


# ---------------------------------------------------------------- part requests (no signal: their timeline)


@sa_event.listens_for(Session, "after_flush")
def _collect_part_request_events(session: Session, _context) -> None:
    new = [obj for obj in session.new if isinstance(obj, PartRequestEvent)]
    if new:
        session.info.setdefault(_NEW_PART_EVENTS, []).extend(new)


@sa_event.listens_for(Session, "after_flush_postexec")
def _emit_part_request_events(session: Session, _context) -> None:
    # Adding rows is allowed here (not in after_flush): the session flushes them in another round.
    for event in session.info.pop(_NEW_PART_EVENTS, []):
        pr = event.part_request
        ops.emit(
            f"part_request.{event.to_status}",
            {
                "part_request": {
                    "id": pr.id,
                    "number": pr.number,
                    "status": pr.status,
                    "request_id": pr.request_id,
                    "target_warehouse_id": pr.target_warehouse_id,
                    "lines": [{"part_id": ln.part_id, "qty": ln.qty} for ln in pr.lines],
                },
                "event": {
                    "action": event.action,
                    "from_status": event.from_status,
                    "to_status": event.to_status,
                    "at": event.at.isoformat(),
                    "actor": event.actor_label,
                },
            },
        )


def _drop_collected(session: Session, *_) -> None:
    session.info.pop(_NEW_PART_EVENTS, None)


sa_event.listen(Session, "after_rollback", _drop_collected)
