"""Engineers' calendars read once for many engineers: leave and booked appointments, and the first free window.

Dispatch asks for hundreds of engineers at a time (the candidate list, automatic dispatch, the claim pool), so
the rows are read in two queries for all of them and the windows worked out in Python, with the same rules as
`operations.earliest_free_window` (inside a shift, off leave, clear of each booked appointment by the straight-line
drive between the two customers at APPOINTMENT_TRAVEL_KMH).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from fieldservice.appointments.models import BOOKED, Appointment
from fieldservice.customers.models import Customer
from fieldservice.engineers import schedule
from fieldservice.engineers.models import EngineerLeave
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest

# A visit when nothing says how long: what dispatch looks for in a calendar and the booking form proposes.
USUAL_LENGTH = timedelta(hours=2)
# Proposed windows start on the quarter hour.
STEP = timedelta(minutes=15)
# How far from a window another one can still be too close: nobody drives longer than this between two jobs.
NEIGHBOURS = timedelta(hours=12)

Point = tuple[float | None, float | None]


def round_up(moment: datetime) -> datetime:
    seconds = int(STEP.total_seconds())
    rounded = -(-int(moment.timestamp()) // seconds) * seconds
    return datetime.fromtimestamp(rounded, UTC)


def travel(a: Point | None, b: Point | None) -> timedelta:
    """Straight-line travel time between two places at the configured speed; none when a place is unknown."""
    if a is None or b is None:
        return timedelta(0)
    km = schedule.haversine_km(a[0], a[1], b[0], b[1])
    if km is None:
        return timedelta(0)
    return timedelta(hours=km / current_app.config["APPOINTMENT_TRAVEL_KMH"])


def first_fit(
    spans: Iterable[tuple[datetime, datetime]],
    busy: list[tuple[datetime, datetime]],
    length: timedelta,
    not_before: datetime,
) -> tuple[datetime, datetime] | None:
    """The first window of *length* on the quarter hour inside one of *spans* (in order) that overlaps no *busy*."""
    for span_start, span_end in spans:
        candidate = round_up(max(span_start, not_before))
        moved = True
        while moved and candidate + length <= span_end:
            moved = False
            for a, b in busy:
                if a < candidate + length and candidate < b:
                    candidate, moved = round_up(b), True
        if candidate + length <= span_end:
            return candidate, candidate + length
    return None


@dataclass
class Calendars:
    """Leave and booked appointments of some engineers between *start* and *end* (plus the drive's margin)."""

    start: datetime
    end: datetime
    leave: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    # engineer id -> [(starts_at, ends_at, (lat, lng) of the customer)]
    booked: dict[int, list[tuple[datetime, datetime, Point]]] = field(default_factory=dict)

    @classmethod
    def load(cls, engineer_ids, start: datetime, end: datetime) -> "Calendars":
        """Two queries whatever the number of engineers (*engineer_ids*: ids or a subquery of them)."""
        calendars = cls(start, end)
        if not isinstance(engineer_ids, sa.ScalarSelect):
            engineer_ids = list(engineer_ids)
            if not engineer_ids:
                return calendars
        for engineer_id, starts_at, ends_at in db.session.execute(
            sa.select(EngineerLeave.engineer_id, EngineerLeave.starts_at, EngineerLeave.ends_at).where(
                EngineerLeave.engineer_id.in_(engineer_ids),
                EngineerLeave.starts_at < end,
                EngineerLeave.ends_at > start,
            )
        ):
            calendars.leave.setdefault(engineer_id, []).append((starts_at, ends_at))
        for engineer_id, starts_at, ends_at, lat, lng in db.session.execute(
            sa.select(Appointment.engineer_id, Appointment.starts_at, Appointment.ends_at, Customer.lat, Customer.lng)
            .join(ServiceRequest, ServiceRequest.id == Appointment.request_id)
            .join(Customer, Customer.id == ServiceRequest.customer_id)
            .where(
                Appointment.engineer_id.in_(engineer_ids),
                Appointment.status == BOOKED,
                Appointment.starts_at < end + NEIGHBOURS,
                Appointment.ends_at > start - NEIGHBOURS,
            )
            .order_by(Appointment.starts_at)
        ):
            calendars.booked.setdefault(engineer_id, []).append((starts_at, ends_at, (lat, lng)))
        return calendars

    def reserve(self, engineer_id: int, window: tuple[datetime, datetime], place: Point | None) -> None:
        """Count a proposed window as booked (the next proposal of the same batch keeps clear of it)."""
        self.booked.setdefault(engineer_id, []).append((window[0], window[1], place or (None, None)))

    def first_window(
        self,
        engineer,
        length: timedelta = USUAL_LENGTH,
        not_before: datetime | None = None,
        place: Point | None = None,
        *,
        within_shifts: bool = True,
    ) -> tuple[datetime, datetime] | None:
        """The engineer's first free window of *length* from *not_before* (default: the calendars' start) up to
        their end: off leave, clear of booked appointments with the drive from and to *place*, inside a shift
        (or, with within_shifts=False, at any hour: an engineer claiming a job after hours chooses to)."""
        not_before = not_before or self.start
        busy = list(self.leave.get(engineer.id, ()))
        for starts_at, ends_at, other in self.booked.get(engineer.id, ()):
            drive = travel(place, other)
            busy.append((starts_at - drive, ends_at + drive))
        if within_shifts:
            spans = schedule.shifts_between(
                engineer.weekdays, engineer.work_start, engineer.work_end, not_before, self.end
            )
        else:
            spans = [(not_before, self.end)]
        return first_fit(spans, busy, length, not_before)
