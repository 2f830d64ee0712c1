"""Priming: the engineer's whole offline set, fetched kind by kind in pages the phone can resume.

Each kind is a query ordered by one integer key (the row's id), so a page starts after the last key the phone
received (`after`) and a priming cut off halfway resumes where it stopped. The summary counts each kind with
the same query the pages read, so the phone checks it received everything (the sum over the pages equals the
count) before it says "ready offline".
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import selectinload

from fieldservice.appointments import operations as appointments_ops
from fieldservice.appointments.models import Appointment
from fieldservice.core.errors import Forbidden, NotFound, ValidationFailed
from fieldservice.core.models import utcnow
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.knowledge.models import KnowledgeCause, KnowledgeEntry
from fieldservice.parts.models import Part, StockLevel, Warehouse
from fieldservice.requests.models import ProblemType, ServiceRequest, Visit
from fieldservice.settlement.models import RepairItem
from fieldservice.sync import operations as sync_ops
from fieldservice.sync.schemas import HistoryRequestSchema, JobSchema, KnowledgeHintSchema

PAGE_DEFAULT = 200
PAGE_MAX = 500
# The appointments the phone keeps: those of the coming week.
APPOINTMENT_DAYS = 7

_JOB = JobSchema()
_HISTORY = HistoryRequestSchema()
_KNOWLEDGE = KnowledgeHintSchema()


@dataclass(frozen=True)
class Kind:
    """One kind of the offline set: its rows (a query over one entity), the integer key that orders them, and how
    a page of rows becomes the items the phone stores."""

    rows: Callable[[object, object, datetime], sa.Select]
    key: sa.orm.InstrumentedAttribute
    dump: Callable[[list, object, object], list[dict]]


# ---------------------------------------------------------------- the kinds


def _job_ids(engineer, now: datetime) -> sa.Select:
    return sync_ops._jobs_query(engineer, now).with_only_columns(ServiceRequest.id)


def _jobs(user, engineer, now):
    return sync_ops._jobs_query(engineer, now)


def _dump_jobs(rows, user, engineer):
    return [_JOB.dump(view) for view in sync_ops.job_views(rows, user)]


def _history(user, engineer, now):
    """The earlier requests of the units the engineer's jobs are on (the jobs themselves are kind `jobs`)."""
    units = sync_ops._jobs_query(engineer, now).with_only_columns(ServiceRequest.equipment_id)
    return sa.select(ServiceRequest).where(
        ServiceRequest.equipment_id.in_(units.where(ServiceRequest.equipment_id.is_not(None))),
        ServiceRequest.id.not_in(_job_ids(engineer, now)),
    )


def _dump_history(rows, user, engineer):
    return [{**_HISTORY.dump(sr), "equipment_id": sr.equipment_id} for sr in rows]


def _knowledge(user, engineer, now):
    return sa.select(KnowledgeEntry).where(
        KnowledgeEntry.status == "published", KnowledgeEntry.category.in_(engineer.skill_categories)
    )


def _dump_knowledge(rows, user, engineer):
    return [
        {**_KNOWLEDGE.dump(sync_ops.hint(entry)), "category": entry.category, "product_id": entry.product_id}
        for entry in rows
    ]


def _stock(user, engineer, now):
    return (
        sa.select(StockLevel)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(Warehouse.engineer_id == engineer.id, Warehouse.kind == "van", StockLevel.qty > 0)
    )


def _dump_stock(rows, user, engineer):
    return [
        {
            "id": level.id,
            "part_id": level.part_id,
            "part_number": level.part.part_number,
            "name": level.part.name,
            "qty": int(level.qty),
            "serial_tracked": level.part.serial_tracked,
        }
        for level in rows
    ]


def _parts(user, engineer, now):
    return sa.select(Part).where(Part.active.is_(True))


def _dump_parts(rows, user, engineer):
    return [
        {
            "id": part.id,
            "part_number": part.part_number,
            "name": part.name,
            "category": part.category,
            "unit_price": str(part.unit_price),
            "serial_tracked": part.serial_tracked,
            "return_required": part.return_required,
        }
        for part in rows
    ]


def _problem_types(user, engineer, now):
    # Inactive ones too: the phone names the problem of an older job with them.
    return sa.select(ProblemType)


def _dump_problem_types(rows, user, engineer):
    return [
        {"id": p.id, "code": p.code, "zh": p.name_zh, "en": p.name_en, "category": p.category, "active": p.active}
        for p in rows
    ]


def _repair_items(user, engineer, now):
    return sa.select(RepairItem).where(RepairItem.active.is_(True), RepairItem.category.in_(engineer.skill_categories))


def _dump_repair_items(rows, user, engineer):
    return [
        {
            "id": item.id,
            "category": item.category,
            "code": item.code,
            "name_zh": item.name_zh,
            "name_en": item.name_en,
            "standard_hours": str(item.standard_hours),
            "pricing": item.pricing,
        }
        for item in rows
    ]


def _appointments(user, engineer, now):
    return sa.select(Appointment).where(
        Appointment.engineer_id == engineer.id,
        Appointment.status == "booked",
        Appointment.starts_at < now + timedelta(days=APPOINTMENT_DAYS),
    )


def _dump_appointments(rows, user, engineer):
    return [{**appointments_ops.as_dict(a), "id": a.id, "request_id": a.request_id, "note": a.note} for a in rows]


# The order is the phone's: what a job on site needs first.
KINDS: dict[str, Kind] = {
    "jobs": Kind(_jobs, ServiceRequest.id, _dump_jobs),
    "appointments": Kind(_appointments, Appointment.id, _dump_appointments),
    "history": Kind(_history, ServiceRequest.id, _dump_history),
    "stock": Kind(_stock, StockLevel.id, _dump_stock),
    "problem_types": Kind(_problem_types, ProblemType.id, _dump_problem_types),
    "repair_items": Kind(_repair_items, RepairItem.id, _dump_repair_items),
    "knowledge": Kind(_knowledge, KnowledgeEntry.id, _dump_knowledge),
    "parts": Kind(_parts, Part.id, _dump_parts),
}
# What each page loads with its rows, so dumping it asks nothing more.
_LOADS = {
    "jobs": sync_ops.JOB_LOADS,
    "history": (selectinload(ServiceRequest.visits).selectinload(Visit.engineer),),
    "stock": (selectinload(StockLevel.part),),
    "knowledge": (selectinload(KnowledgeEntry.causes).selectinload(KnowledgeCause.solutions),),
}


# ---------------------------------------------------------------- summary and pages


def _engineer(user):
    engineer = engineer_for_user(user)
    if engineer is None:
        raise Forbidden("not_an_engineer", "Only an engineer with a profile syncs jobs.")
    return engineer


def summary(user, now: datetime | None = None) -> dict:
    """How many items of each kind the phone will receive, and a pull cursor from this moment."""
    now = now or utcnow()
    engineer = _engineer(user)
    counts = db.session.execute(
        sa.select(
            *(
                sa.select(sa.func.count()).select_from(kind.rows(user, engineer, now).subquery()).scalar_subquery()
                for kind in KINDS.values()
            )
        )
    ).one()
    jobs = db.session.scalars(_job_ids(engineer, now)).all()
    return {
        "as_of": now,
        "kinds": dict(zip(KINDS, counts, strict=True)),
        "cursor": sync_ops.make_cursor(now, jobs),
    }


def _key_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="fieldservice-sync-prime")


def _read_key(kind: str, after: str | None) -> int:
    if not after:
        return 0
    try:
        name, key = _key_serializer().loads(after)
        if name != kind or not isinstance(key, int):
            raise ValueError(name)
    except (BadSignature, TypeError, ValueError) as exc:
        raise ValidationFailed(
            "invalid_key",
            "This key is not valid: start the kind again without after.",
            {"after": "Not a key of this kind."},
        ) from exc
    return key


def page(user, kind_name: str, after: str | None, limit: int = PAGE_DEFAULT, now: datetime | None = None) -> dict:
    """The items of *kind_name* after the key *after*, at most *limit*; `next` resumes after the last."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise NotFound("not_found", f"No kind {kind_name!r}; the kinds are: {', '.join(KINDS)}.")
    now = now or utcnow()
    engineer = _engineer(user)
    start = _read_key(kind_name, after)
    query = kind.rows(user, engineer, now)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.where(kind.key > start).order_by(kind.key).limit(limit + 1).options(*_LOADS.get(kind_name, ()))
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "kind": kind_name,
        "items": kind.dump(rows, user, engineer),
        "next": _key_serializer().dumps([kind_name, getattr(rows[-1], kind.key.key)]) if more else None,
        "total": total,
    }
