"""Preventive maintenance requests: one per unit per cycle that an agreement's plan owes (contracts/maintenance.py).

Never twice: each owed visit is first inserted as a MaintenanceOccurrence, whose unique key (agreement, equipment,
cycle start) makes a second run, or a second worker running at the same moment, fail to insert and skip it. The
request is created only by the run that inserted the occurrence, in the same transaction.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fieldservice.contracts.maintenance import cycle_starts, due_cycles, equipment_for
from fieldservice.contracts.models import Agreement, MaintenanceOccurrence
from fieldservice.core.clock import add_working_days, site_zone, today
from fieldservice.core.errors import ApiError
from fieldservice.customers.models import Equipment
from fieldservice.extensions import db
from fieldservice.requests.models import ProblemType, ServiceRequest
from fieldservice.requests.operations import create_problem_type, create_request

log = logging.getLogger("fieldservice.requests")

MAINTENANCE_PROBLEM_TYPE = "maintenance"
# The longest lead an agreement may set (contracts/schemas.py): agreements starting later are not looked at yet.
MAX_LEAD_DAYS = 60
# The customer's required date is the cycle's start (or the next working day), by the end of the working day.
DUE_TIME = time(18, 0)


@dataclass
class MaintenanceRun:
    created: int = 0
    skipped: int = 0
    request_ids: list[int] = field(default_factory=list)


def ensure_problem_type() -> None:
    """The "maintenance" problem type that maintenance requests are filed under (created once if missing)."""
    if db.session.scalar(sa.select(ProblemType.id).where(ProblemType.code == MAINTENANCE_PROBLEM_TYPE)):
        return
    try:
        with db.session.begin_nested():
            create_problem_type(
                {
                    "code": MAINTENANCE_PROBLEM_TYPE,
                    "name_zh": "定期保养",
                    "name_en": "Preventive maintenance",
                    "category": "maintenance",
                    "sort_order": 90,
                },
                None,
            )
    except IntegrityError:
        log.info("problem type %r was created by a concurrent run", MAINTENANCE_PROBLEM_TYPE)


def _required_by(cycle_start: date, on: date) -> datetime:
    # A cycle found late (already started) is owed within its lead time from today instead of in the past.
    day = max(cycle_start, on + timedelta(days=1))
    # Due by the end of a working day: a cycle starting on a weekend or a public holiday is due on the next one.
    return add_working_days(datetime.combine(day, DUE_TIME, tzinfo=site_zone()), 0)


def _create_occurrence(agreement: Agreement, equipment: Equipment, cycle_start: date, on: date) -> int | None:
    """Insert the occurrence, then its request; None when another run owns it (or the request was refused)."""
    try:
        with db.session.begin_nested():
            occurrence = MaintenanceOccurrence(
                agreement_id=agreement.id, equipment_id=equipment.id, cycle_start=cycle_start
            )
            db.session.add(occurrence)
            db.session.flush()
    except IntegrityError:
        return None
    try:
        with db.session.begin_nested():
            request = create_request(
                {
                    "customer_id": agreement.customer_id,
                    "equipment_id": equipment.id,
                    "product_id": equipment.product_id,
                    "problem_type": MAINTENANCE_PROBLEM_TYPE,
                    # Only data, in no language: the problem type (maintenance) says what it is in the reader's.
                    "description": (
                        f"{agreement.number} {agreement.name} · {equipment.serial_number} · {cycle_start.isoformat()}"
                    ),
                    "priority": 4,
                    "required_by": _required_by(cycle_start, on),
                    "channel": "maintenance",
                },
                None,
            )
            occurrence.request_id = request.id
            db.session.flush()
    except ApiError as exc:
        # Leave no occurrence behind: the next run tries again once the cause (say, a deleted product) is fixed.
        log.warning(
            "maintenance request for %s, equipment %s, cycle %s refused: %s",
            agreement.number,
            equipment.serial_number,
            cycle_start,
            exc.message,
        )
        db.session.delete(occurrence)
        db.session.flush()
        return None
    return request.id


def generate_maintenance(on: date | None = None) -> MaintenanceRun:
    """Create the maintenance requests owed on *on* (today at the site by default); safe to run any number of times."""
    on = on or today()
    run = MaintenanceRun()
    agreements = db.session.scalars(
        sa.select(Agreement)
        .where(
            Agreement.maintenance_cycle_months.is_not(None),
            Agreement.starts_on <= on + timedelta(days=MAX_LEAD_DAYS),
            Agreement.ends_on >= on,
        )
        .order_by(Agreement.id)
    ).all()
    problem_type_checked = False
    for agreement in agreements:
        cycles = due_cycles(agreement, on)
        if not cycles:
            continue
        equipment_list = equipment_for(agreement)
        done = set(
            db.session.execute(
                sa.select(MaintenanceOccurrence.equipment_id, MaintenanceOccurrence.cycle_start).where(
                    MaintenanceOccurrence.agreement_id == agreement.id,
                    MaintenanceOccurrence.cycle_start.in_(cycles),
                )
            ).all()
        )
        for cycle_start in cycles:
            for equipment in equipment_list:
                if (equipment.id, cycle_start) in done:
                    continue
                if not problem_type_checked:
                    ensure_problem_type()
                    problem_type_checked = True
                request_id = _create_occurrence(agreement, equipment, cycle_start, on)
                if request_id is None:
                    run.skipped += 1
                else:
                    run.created += 1
                    run.request_ids.append(request_id)
    if run.created or run.skipped:
        log.info("maintenance on %s: %s requests created, %s skipped", on, run.created, run.skipped)
    return run


def schedule_of(agreement: Agreement) -> list[dict]:
    """Each maintenance cycle: when its requests are created, and per unit the request made (if any)."""
    occurrences = {
        (o.equipment_id, o.cycle_start): o
        for o in db.session.scalars(
            sa.select(MaintenanceOccurrence).where(MaintenanceOccurrence.agreement_id == agreement.id)
        )
    }
    request_ids = [o.request_id for o in occurrences.values() if o.request_id]
    requests_by_id = (
        {
            sr.id: sr
            for sr in db.session.scalars(sa.select(ServiceRequest).where(ServiceRequest.id.in_(request_ids)))
        }
        if request_ids
        else {}
    )
    units = equipment_for(agreement)
    on = today()
    starts = cycle_starts(agreement)
    if not starts:
        return []
    ends = [*starts[1:], agreement.ends_on + timedelta(days=1)]
    schedule = []
    for start, following in zip(starts, ends, strict=True):
        rows = []
        for unit in units:
            occurrence = occurrences.get((unit.id, start))
            found = requests_by_id.get(occurrence.request_id) if occurrence else None
            rows.append({"equipment": unit, "request": found})
        schedule.append(
            {
                "cycle_start": start,
                "create_on": start - timedelta(days=agreement.maintenance_lead_days),
                # A cycle over before any request was made for it (say, the agreement was entered late).
                "past": following <= on,
                "rows": rows,
            }
        )
    return schedule
