"""The schedule (GET /api/v1/schedule and the board): each engineer's days with shifts, leave and appointments,
and the open requests that have no booked window yet.

A fixed number of queries whatever the number of engineers: the engineers, their leave, the appointments of the
days and the unscheduled requests, each read once as plain rows (bench/schedule_board.py measures it).
"""

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from fieldservice.appointments.models import BOOKED, KEPT, LONGEST_WINDOW, MISSED, Appointment
from fieldservice.core.clock import site_zone
from fieldservice.customers.models import Customer
from fieldservice.engineers import schedule as shifts
from fieldservice.engineers.models import Engineer, EngineerLeave, EngineerSkill
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest
from fieldservice.requests.projection import ListProjection
from fieldservice.requests.schemas import ServiceRequestSchema
from fieldservice.requests.states import ASSIGNED, AWAITING, LOCKED

# The states the board shows (a cancelled window is history, not a plan).
SHOWN = (BOOKED, KEPT, MISSED)
UNSCHEDULED_LIMIT = 200
UNSCHEDULED = ListProjection(ServiceRequestSchema(), ServiceRequest)


def day_bounds(first: date, days: int) -> tuple[datetime, datetime]:
    """The site's local days [first, first + days) as UTC instants."""
    zone = site_zone()
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(first + timedelta(days=days), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _engineer_filter(query: sa.Select, zone: str | None, skill: str | None) -> sa.Select:
    query = query.where(Engineer.active)
    if zone:
        query = query.where(Engineer.zone == zone)
    if skill:
        query = query.where(
            sa.exists().where(EngineerSkill.engineer_id == Engineer.id, EngineerSkill.category == skill)
        )
    return query


def _engineers(zone: str | None, skill: str | None) -> list:
    """The active engineers as plain rows (hundreds of them: no ORM objects to build)."""
    columns = (Engineer.id, Engineer.name, Engineer.zone, Engineer.lat, Engineer.lng)
    hours = (Engineer.work_days, Engineer.work_start, Engineer.work_end)
    query = sa.select(*columns, *hours).order_by(Engineer.name, Engineer.id)
    return db.session.execute(_engineer_filter(query, zone, skill)).all()


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


class _Stamps(dict):
    """ISO strings of the instants of one answer, each worked out once: windows start and end on a few quarter
    hours, so a thousand appointments share a few dozen instants (bench/schedule_board.py)."""

    def __missing__(self, value: datetime) -> str:
        text = self[value] = _iso(value)
        return text


def schedule_data(first: date, days: int = 1, *, zone: str | None = None, skill: str | None = None) -> dict:
    start, end = day_bounds(first, days)
    iso = _Stamps()
    engineers = _engineers(zone, skill)
    # The same engineers again as a subquery, not a list of hundreds of ids to send and parse.
    ids = _engineer_filter(sa.select(Engineer.id), zone, skill).scalar_subquery()
    leave: dict[int, list[dict]] = {}
    booked: dict[int, list[dict]] = {}
    if engineers:
        for engineer_id, starts_at, ends_at in db.session.execute(
            sa.select(EngineerLeave.engineer_id, EngineerLeave.starts_at, EngineerLeave.ends_at)
            .where(EngineerLeave.engineer_id.in_(ids), EngineerLeave.starts_at < end, EngineerLeave.ends_at > start)
            .order_by(EngineerLeave.starts_at)
        ):
            leave.setdefault(engineer_id, []).append({"start": _iso(starts_at), "end": _iso(ends_at)})
        rows = db.session.execute(
            sa.select(
                Appointment.engineer_id,
                Appointment.request_id,
                ServiceRequest.number,
                ServiceRequest.version,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.status,
                Customer.name,
                Customer.lat,
                Customer.lng,
            )
            .join(ServiceRequest, ServiceRequest.id == Appointment.request_id)
            .join(Customer, Customer.id == ServiceRequest.customer_id)
            .where(
                Appointment.engineer_id.in_(ids),
                Appointment.status.in_(SHOWN),
                Appointment.starts_at < end,
                # A window is at most LONGEST_WINDOW long: the starts_at index finds the days' rows alone.
                Appointment.starts_at > start - LONGEST_WINDOW,
                Appointment.ends_at > start,
            )
            .order_by(Appointment.starts_at)
        )
        for engineer_id, request_id, number, version, starts_at, ends_at, status, customer, lat, lng in rows:
            booked.setdefault(engineer_id, []).append(
                {
                    "request_id": request_id,
                    "number": number,
                    "version": version,
                    "start": iso[starts_at],
                    "end": iso[ends_at],
                    "status": status,
                    "customer": customer,
                    "lat": lat,
                    "lng": lng,
                }
            )
    # Most engineers share their hours: each set of hours is worked out once.
    hours: dict[tuple, list[dict]] = {}

    def shifts_of(e) -> list[dict]:
        key = (e.work_days, e.work_start, e.work_end)
        if key not in hours:
            days = {int(d) for d in e.work_days.split(",") if d.strip()}
            hours[key] = [
                {"start": _iso(a), "end": _iso(b)}
                for a, b in shifts.shifts_between(days, e.work_start, e.work_end, start, end)
            ]
        return hours[key]

    return {
        "engineers": [
            {
                "id": e.id,
                "name": e.name,
                "zone": e.zone,
                "lat": e.lat,
                "lng": e.lng,
                "shifts": shifts_of(e),
                "leave": leave.get(e.id, []),
                "appointments": booked.get(e.id, []),
            }
            for e in engineers
        ],
        "unscheduled": unscheduled(zone=zone, skill=skill),
    }


def unscheduled(*, zone: str | None = None, skill: str | None = None) -> list[dict]:
    """Open requests without a booked window, by due date (the board's side list)."""
    query = (
        sa.select(ServiceRequest)
        .where(
            ServiceRequest.status.in_((AWAITING, LOCKED, ASSIGNED)),
            ~sa.exists().where(Appointment.request_id == ServiceRequest.id, Appointment.status == BOOKED),
        )
        .order_by(ServiceRequest.required_by, ServiceRequest.id)
        .limit(UNSCHEDULED_LIMIT)
    )
    if zone:
        query = query.where(ServiceRequest.customer.has(Customer.zone == zone))
    if skill:
        query = query.where(ServiceRequest.service_category == skill)
    return UNSCHEDULED.dump_page(query)
