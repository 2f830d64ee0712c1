"""Dispatch: who may take which request (eligibility, the claim pool), at what cost; the board's suggestions;
automatic dispatch of a batch.

Hard constraints (never broken by automatic dispatch): the engineer has the request's category as a skill, is
active, is not on leave now, is on duty now or starts a shift before the request's start deadline (the earlier
of its response due time and the customer's required date; already late requests need someone on duty now),
and stays under the cap on open jobs, counting the jobs given out in the same batch.

Cost, in km-equivalents: travel (haversine km from the engineer's home to the customer) and the wait until the
engineer's shift, both weighted by the request's urgency (SLA time left and priority), plus the engineer's
load (matching.load_cost). The batch is solved as one assignment problem (fieldservice.dispatch.matching).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import numpy as np
import sqlalchemy as sa
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy.orm import contains_eager, selectinload

from fieldservice.appointments.calendar import STEP, USUAL_LENGTH, Calendars
from fieldservice.auth.models import User
from fieldservice.core.errors import ApiError, Conflict, ValidationFailed
from fieldservice.core.models import utcnow
from fieldservice.customers.categories import category_label
from fieldservice.customers.models import Customer
from fieldservice.dispatch import matching
from fieldservice.engineers import schedule
from fieldservice.engineers.models import Engineer, EngineerSkill
from fieldservice.engineers.operations import zones
from fieldservice.engineers.signals import loads_wanted
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest
from fieldservice.requests.operations import LOAD_STATUSES, assign_many, hold, open_load
from fieldservice.requests.signals import status_changed
from fieldservice.requests.states import AWAITING, LOCKED

log = logging.getLogger("fieldservice.dispatch")

# Urgency: a request whose start deadline is this close (or past) counts as fully urgent on the SLA side.
URGENT_WITHIN_HOURS = 48.0
# Waiting for a shift costs this many km-equivalents per hour (times the urgency weight), up to
# MAX_WAIT_HOURS.
WAIT_WEIGHT_KM_PER_HOUR = 1.0
MAX_WAIT_HOURS = 72.0
# Distances beyond this say nothing more: the cost stays bounded below the penalty of leaving a request out.
MAX_DISTANCE_KM = 500.0
# When a home or a customer has no coordinates: a guess from the zones.
UNKNOWN_DISTANCE_SAME_ZONE_KM = 10.0
UNKNOWN_DISTANCE_KM = 30.0
# Leaving a request out costs more than any assignment can (urgency-weighted travel + wait + load < 1,500).
PENALTY = 2000.0
# A fixed key for PostgreSQL's advisory lock: one automatic dispatch at a time, so caps hold across batches.
ADVISORY_LOCK_KEY = 0x46535F444953  # "FS_DIS"

# The engineers' pages show each engineer's load: jobs are requests, counted here for them.
loads_wanted.connect(open_load)


@dataclass(frozen=True)
class Eligibility:
    """Whether an engineer may take a job, and if not, why (code for machines, message for people)."""

    ok: bool
    code: str = ""
    message: str = ""

    def __bool__(self) -> bool:
        return self.ok


def eligible(
    engineer: Engineer,
    category: str | None,
    at: datetime,
    *,
    load: int | None = None,
    deadline: datetime | None = None,
) -> Eligibility:
    """May *engineer* take a job of *category* at *at*? Active, skilled, not on leave, under the cap.

    With *deadline* (the time by which the job must be started), the engineer must also be on duty at *at* or
    start a shift before the deadline. Without it (an engineer claiming from the pool) duty is not checked: an
    engineer who claims a job after hours chooses to.
    """
    if not engineer.active or not engineer.user.active:
        return Eligibility(False, "inactive", _("%(name)s is not active.", name=engineer.name))
    if not category or category not in engineer.skill_categories:
        return Eligibility(
            False,
            "no_skill",
            _(
                "%(name)s lacks the skill %(category)s.",
                name=engineer.name,
                category=category_label(category),
            ),
        )
    leaves = [(leave.starts_at, leave.ends_at) for leave in engineer.leaves]
    if schedule.on_leave(leaves, at):
        return Eligibility(False, "on_leave", _("%(name)s is on leave.", name=engineer.name))
    if deadline is not None:
        start = schedule.engineer_available_from(engineer, at, leaves)
        if start is None or start > max(deadline, at):
            return Eligibility(
                False, "off_duty", _("%(name)s is off duty until after the deadline.", name=engineer.name)
            )
    if load is None:
        load = open_load([engineer.id])[engineer.id]
    if load >= engineer.max_open_jobs:
        return Eligibility(
            False,
            "at_cap",
            _(
                "%(name)s has %(load)d of %(cap)d open jobs.",
                name=engineer.name,
                load=load,
                cap=engineer.max_open_jobs,
            ),
        )
    return Eligibility(True)


def held_jobs(engineer: Engineer) -> list[ServiceRequest]:
    """The requests *engineer* holds now (those that count against the cap), the earliest required first."""
    return list(
        db.session.scalars(
            sa.select(ServiceRequest)
            .where(ServiceRequest.engineer_id == engineer.id, ServiceRequest.status.in_(LOAD_STATUSES))
            .order_by(ServiceRequest.required_by)
        )
    )


def start_deadline(request_model):
    """SQL: when work must start, the earlier of the response due time and the customer's date."""
    return sa.case(
        (request_model.response_due < request_model.required_by, request_model.response_due),
        else_=request_model.required_by,
    )


def claim_pool(engineer: Engineer, now: datetime | None = None) -> sa.Select:
    """Requests this engineer could claim: awaiting assignment, of their skills, in their zone (if any), and that
    their calendar can still fit: their first free window of the usual length (off leave, clear of their booked
    appointments, at any hour: duty is not checked for a claim) starts by the request's start deadline, or now
    for a request already late."""
    now = now or utcnow()
    window = Calendars.load([engineer.id], now, now + schedule.HORIZON).first_window(
        engineer, USUAL_LENGTH, now, within_shifts=False
    )
    query = (
        sa.select(ServiceRequest)
        .join(Customer, Customer.id == ServiceRequest.customer_id)
        .where(
            ServiceRequest.status == AWAITING,
            ServiceRequest.service_category.in_(engineer.skill_categories),
        )
        .order_by(start_deadline(ServiceRequest), ServiceRequest.priority, ServiceRequest.id)
    )
    if engineer.zone:
        # A customer without a zone is nobody's: everyone skilled sees it rather than no one.
        query = query.where(sa.or_(Customer.zone == engineer.zone, Customer.zone.is_(None)))
    if window is None:
        return query.where(sa.false())
    if window[0] > now + STEP:  # not free now: only the jobs that may start as late as the free window
        query = query.where(start_deadline(ServiceRequest) >= window[0] - STEP)
    return query


def _check_claim(sr, event=None, **_kw) -> None:
    """Refuse a claim that breaks the rules: on leave or at the cap (requests checks the skill)."""
    if event is None or event.action != "claim":
        return
    engineer = db.session.get(Engineer, sr.engineer_id)
    # The claim is flushed already: it is in the load; the cap is about the jobs held before it.
    load = open_load([engineer.id])[engineer.id] - 1
    verdict = eligible(engineer, sr.service_category, event.at, load=load)
    if not verdict:
        raise Conflict("claim_not_allowed", verdict.message, reason=verdict.code)


status_changed.connect(_check_claim)


@dataclass
class Roster:
    """The active engineers as arrays (one index per engineer), as of *now*."""

    now: datetime
    engineers: list[Engineer]
    lat: np.ndarray
    lng: np.ndarray
    zones: list[str | None]
    cap: np.ndarray
    load: np.ndarray
    on_leave: np.ndarray
    available_at: np.ndarray  # epoch seconds of the first moment on shift and off leave; inf: none within HORIZON
    # Epoch seconds of the first free window of the usual visit length (on shift, off leave, clear of booked
    # appointments); inf: none within HORIZON. The calendars propose each chosen engineer's window.
    free_at: np.ndarray = field(default_factory=lambda: np.zeros(0))
    calendars: Calendars | None = None
    skills: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def free(self) -> np.ndarray:
        return np.maximum(self.cap - self.load, 0)

    def skilled(self, category: str | None) -> np.ndarray:
        mask = self.skills.get(category or "")
        return mask if mask is not None else np.zeros(len(self.engineers), dtype=bool)


def load_roster(now: datetime) -> Roster:
    """Read every active engineer with skills, leave near *now* and current load (a handful of queries)."""
    engineers = list(
        db.session.scalars(
            sa.select(Engineer)
            .join(User, User.id == Engineer.user_id)
            .where(Engineer.active, User.active)
            .options(contains_eager(Engineer.user), selectinload(Engineer.skills))
            .order_by(Engineer.id)
        ).unique()
    )
    index = {e.id: i for i, e in enumerate(engineers)}
    m = len(engineers)
    # Leave and booked appointments of every engineer within the horizon, in two queries.
    calendars = Calendars.load(list(index), now, now + schedule.HORIZON)
    leaves = calendars.leave
    loads = open_load(index)
    skills: dict[str, np.ndarray] = {}
    for engineer in engineers:
        for skill in engineer.skills:
            skills.setdefault(skill.category, np.zeros(m, dtype=bool))[index[engineer.id]] = True
    available = np.full(m, np.inf)
    free_at = np.full(m, np.inf)
    for i, e in enumerate(engineers):
        start = schedule.available_from(e.weekdays, e.work_start, e.work_end, now, leaves.get(e.id, ()))
        if start is not None:
            available[i] = start.timestamp()
            window = calendars.first_window(e, USUAL_LENGTH, now)
            if window is not None:
                free_at[i] = window[0].timestamp()
    return Roster(
        now=now,
        engineers=engineers,
        lat=np.array([np.nan if e.lat is None else e.lat for e in engineers], dtype=float),
        lng=np.array([np.nan if e.lng is None else e.lng for e in engineers], dtype=float),
        zones=[e.zone for e in engineers],
        cap=np.array([e.max_open_jobs for e in engineers], dtype=int),
        load=np.array([loads[e.id] for e in engineers], dtype=int),
        on_leave=np.array([schedule.on_leave(leaves.get(e.id, ()), now) for e in engineers], dtype=bool),
        available_at=available,
        free_at=free_at,
        calendars=calendars,
        skills=skills,
    )


@dataclass
class Job:
    """A request as dispatch sees it: what it needs, where, by when."""

    request: ServiceRequest
    lat: float | None
    lng: float | None
    zone: str | None

    @property
    def category(self) -> str:
        return self.request.service_category

    @property
    def deadline(self) -> datetime:
        """When someone must start: the earlier of the response due time and the required date."""
        return min(self.request.response_due, self.request.required_by)


def jobs_query() -> sa.Select:
    """Requests with their customers, in one query (customer notifications read them after an
    assignment)."""
    return (
        sa.select(ServiceRequest)
        .join(Customer, Customer.id == ServiceRequest.customer_id)
        .options(contains_eager(ServiceRequest.customer))
    )


def to_jobs(requests) -> list[Job]:
    """Jobs of requests read with jobs_query (their customers loaded)."""
    return [Job(sr, sr.customer.lat, sr.customer.lng, sr.customer.zone) for sr in requests]


def _haversine(lat1, lng1, lat2, lng2) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lng2 - lng1) / 2) ** 2
    return 2 * schedule.EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


@dataclass
class Assessment:
    """Every (request, engineer) pair of a set of jobs against a roster: constraints, distances, costs."""

    jobs: list[Job]
    roster: Roster
    skilled: np.ndarray  # (n, m)
    duty_ok: np.ndarray  # (n, m): can start by the request's deadline (leave aside)
    eligible: np.ndarray  # (n, m): every hard constraint
    distance: np.ndarray  # (n, m) km, nan where unknown
    base: np.ndarray  # (n, m) travel and wait cost
    hours_left: np.ndarray  # (n,) until the start deadline (negative: late)
    urgency: np.ndarray  # (n,) 0 .. 1.5
    # (n, m): the engineer's booked appointments leave a window of the usual length starting by the deadline
    calendar_ok: np.ndarray | None = None

    @cached_property
    def texts(self) -> dict[str, str]:
        """The reasons' phrases in the reader's language, looked up once for the whole batch."""
        return {
            "skill": _("skill match %(category)s"),
            "distance": _("distance %(km).1f km"),
            "distance_unknown": _("distance unknown"),
            "load": _("load %(load)d/%(cap)d"),
            "sla_left": _("SLA %(hours).1f h left"),
            "sla_overdue": _("SLA overdue by %(hours).1f h"),
            "next_shift": _("starts %(when)s (next shift)"),
            "window": _("first free window %(start)s–%(end)s"),
        }

    @cached_property
    def category_labels(self) -> dict[str | None, str]:
        """The batch's categories in the reader's language."""
        return {code: category_label(code) for code in {job.category for job in self.jobs}}

    def propose(self, row: int, col: int, reserve: bool = False) -> tuple[datetime, datetime] | None:
        """The chosen engineer's first free window for the job (the drive to its customer counted); with
        *reserve*, later proposals to the same engineer keep clear of it (one batch)."""
        calendars = self.roster.calendars
        if calendars is None:
            return None
        job, engineer = self.jobs[row], self.roster.engineers[col]
        window = calendars.first_window(engineer, USUAL_LENGTH, self.roster.now, (job.lat, job.lng))
        if window is not None and reserve:
            calendars.reserve(engineer.id, window, (job.lat, job.lng))
        return window

    def batch(self) -> matching.Batch:
        return matching.Batch(
            base=self.base,
            eligible=self.eligible,
            free=self.roster.free,
            load=self.roster.load,
            cap=self.roster.cap,
            penalty=PENALTY * (1.0 + self.urgency),
        )


def assess(jobs: list[Job], roster: Roster) -> Assessment:
    now_ts = roster.now.timestamp()
    n, m = len(jobs), len(roster.engineers)
    skilled = np.zeros((n, m), dtype=bool)
    for i, job in enumerate(jobs):
        skilled[i] = roster.skilled(job.category)
    deadline = np.array([job.deadline.timestamp() for job in jobs], dtype=float).reshape(n)
    hours_left = (deadline - now_ts) / 3600.0
    priority = np.array([job.request.priority for job in jobs], dtype=float).reshape(n)
    urgency = np.clip(1.0 - hours_left / URGENT_WITHIN_HOURS, 0.0, 1.0) + (4.0 - priority) / 6.0
    # A late request cannot wait for anyone's next shift: it needs someone on duty now.
    duty_ok = roster.available_at[None, :] <= np.maximum(deadline, now_ts)[:, None]
    # The calendar: a window of the usual length must start by the deadline (a quarter hour of grace: windows
    # start on the quarter hour); a late request needs someone free now.
    calendar_ok = roster.free_at[None, :] <= (np.maximum(deadline, now_ts) + STEP.total_seconds())[:, None]
    eligible = skilled & ~roster.on_leave[None, :] & duty_ok & calendar_ok & (roster.free > 0)[None, :]

    job_lat = np.array([np.nan if j.lat is None else j.lat for j in jobs], dtype=float).reshape(n)
    job_lng = np.array([np.nan if j.lng is None else j.lng for j in jobs], dtype=float).reshape(n)
    distance = _haversine(job_lat[:, None], job_lng[:, None], roster.lat[None, :], roster.lng[None, :])
    # Zones as numbers (no zone: -1 for a job, -2 for an engineer, so that two unknowns never match).
    codes: dict[str, int] = {}
    job_zone = np.array([-1 if j.zone is None else codes.setdefault(j.zone, len(codes)) for j in jobs], dtype=int)
    engineer_zone = np.array([-2 if z is None else codes.get(z, -3) for z in roster.zones], dtype=int)
    same_zone = job_zone.reshape(n)[:, None] == engineer_zone[None, :]
    guessed = np.where(same_zone, UNKNOWN_DISTANCE_SAME_ZONE_KM, UNKNOWN_DISTANCE_KM)
    travel = np.minimum(np.where(np.isnan(distance), guessed, distance), MAX_DISTANCE_KM)
    # The wait until the engineer is free: their first free window, or their shift when the calendar has none.
    free_from = np.where(np.isfinite(roster.free_at), roster.free_at, roster.available_at)
    wait_hours = np.minimum(np.maximum(free_from - now_ts, 0.0) / 3600.0, MAX_WAIT_HOURS)
    weight = (1.0 + urgency)[:, None]
    base = weight * (travel + WAIT_WEIGHT_KM_PER_HOUR * wait_hours[None, :])
    return Assessment(
        jobs, roster, skilled, duty_ok, eligible, distance, base, hours_left, urgency, calendar_ok=calendar_ok
    )


# ------------------------------------------------------------------ reasons, in the reader's language


def _window_text(a: Assessment, window: tuple[datetime, datetime]) -> str:
    start, end = (t.astimezone(a.roster.now.tzinfo) for t in window)
    return a.texts["window"] % {"start": format_datetime(start, "MM-dd HH:mm"), "end": format_datetime(end, "HH:mm")}


def assignment_reason(
    a: Assessment, row: int, col: int, load_before: int, window: tuple[datetime, datetime] | None = None
) -> str:
    """Why this engineer: skill, distance, load, SLA, and the first free window proposed (or the next shift)."""
    roster, texts = a.roster, a.texts
    km, hours_left = float(a.distance[row, col]), float(a.hours_left[row])
    parts = [
        texts["skill"] % {"category": a.category_labels[a.jobs[row].category]},
        texts["distance_unknown"] if np.isnan(km) else texts["distance"] % {"km": km},
        texts["load"] % {"load": load_before, "cap": int(roster.cap[col])},
        texts["sla_left"] % {"hours": hours_left} if hours_left >= 0 else texts["sla_overdue"] % {"hours": -hours_left},
    ]
    if window is not None:
        parts.append(_window_text(a, window))
    elif roster.available_at[col] > roster.now.timestamp():
        starts = datetime.fromtimestamp(roster.available_at[col], tz=roster.now.tzinfo)
        parts.append(texts["next_shift"] % {"when": format_datetime(starts, "MM-dd HH:mm")})
    return "; ".join(parts)


def unassigned_reason(a: Assessment, row: int) -> tuple[str, str]:
    """(code, sentence) for a request the batch left out."""
    job, roster = a.jobs[row], a.roster
    label = a.category_labels[job.category]
    skilled = a.skilled[row]
    count = int(skilled.sum())
    if count == 0:
        return "no_skill", _("No active engineer has the skill %(category)s.", category=label)
    on_leave = int((skilled & roster.on_leave).sum())
    off_duty = int((skilled & ~roster.on_leave & ~a.duty_ok[row]).sum())
    calendar_ok = a.calendar_ok[row] if a.calendar_ok is not None else np.ones_like(skilled)
    booked_up = int((skilled & ~roster.on_leave & a.duty_ok[row] & ~calendar_ok).sum())
    full = int((skilled & ~roster.on_leave & a.duty_ok[row] & calendar_ok & (roster.free == 0)).sum())
    available = count - on_leave - off_duty - booked_up - full
    if available > 0:
        return "taken_in_batch", _(
            "The %(count)d engineers who could take it are at their cap with more urgent requests of this batch.",
            count=available,
        )
    single = {"on_leave": on_leave, "off_duty": off_duty, "booked_up": booked_up, "at_cap": full}
    sentences = {
        "on_leave": _("All %(count)d engineers with the skill %(category)s are on leave.", count=count, category=label),
        "off_duty": _(
            "All %(count)d engineers with the skill %(category)s are off duty until after the deadline.",
            count=count,
            category=label,
        ),
        "booked_up": _(
            "All %(count)d engineers with the skill %(category)s have appointments that leave no room before the "
            "deadline.",
            count=count,
            category=label,
        ),
        "at_cap": _(
            "All %(count)d engineers with the skill %(category)s are at their cap of open jobs.",
            count=count,
            category=label,
        ),
    }
    for code, number in single.items():
        if number == count:
            return code, sentences[code]
    if booked_up:
        return "unavailable", _(
            "None of the %(count)d engineers with the skill %(category)s can take it: %(leave)d on leave, "
            "%(off)d off duty until after the deadline, %(booked)d booked up before it, %(full)d at their cap.",
            count=count,
            category=label,
            leave=on_leave,
            off=off_duty,
            booked=booked_up,
            full=full,
        )
    return "unavailable", _(
        "None of the %(count)d engineers with the skill %(category)s can take it: %(leave)d on leave, "
        "%(off)d off duty until after the deadline, %(full)d at their cap.",
        count=count,
        category=label,
        leave=on_leave,
        off=off_duty,
        full=full,
    )


# ------------------------------------------------------------------ the board's suggestions


@dataclass
class Suggestion:
    engineer: Engineer
    eligible: bool
    distance_km: float | None
    load: int
    cap: int
    cost: float
    reason: str
    window: tuple[datetime, datetime] | None = None

    def as_dict(self) -> dict:
        return {
            "engineer_id": self.engineer.id,
            "name": self.engineer.name,
            "zone": self.engineer.zone,
            "skills": self.engineer.skill_categories,
            "load": self.load,
            "max_open_jobs": self.cap,
            "distance_km": self.distance_km,
            "eligible": self.eligible,
            "reason": self.reason,
            "window": window_dict(self.window),
        }


def window_dict(window: tuple[datetime, datetime] | None) -> dict | None:
    return None if window is None else {"start": window[0].isoformat(), "end": window[1].isoformat()}


def _why_not(a: Assessment, row: int, col: int) -> str:
    roster = a.roster
    if not a.skilled[row, col]:
        return _("lacks the skill %(category)s", category=category_label(a.jobs[row].category))
    if roster.on_leave[col]:
        return _("on leave")
    if not a.duty_ok[row, col]:
        return _("off duty until after the deadline")
    if a.calendar_ok is not None and not a.calendar_ok[row, col]:
        free_at = roster.free_at[col]
        if not np.isfinite(free_at):
            return _("no free window in the next two weeks")
        starts = datetime.fromtimestamp(free_at, tz=roster.now.tzinfo)
        return _(
            "appointments leave no room before the deadline (first free window %(when)s)",
            when=format_datetime(starts, "MM-dd HH:mm"),
        )
    return _("at the cap (%(load)d/%(cap)d)", load=int(roster.load[col]), cap=int(roster.cap[col]))


def suggestions(a: Assessment, row: int, limit: int = 5, include_ineligible: bool = True) -> list[Suggestion]:
    """The engineers for one request, best first: eligible ones by cost, then (optionally) the others by
    distance."""
    roster = a.roster
    cost = a.base[row] + matching.load_cost(roster.load + 1, roster.cap)
    order = sorted(range(len(roster.engineers)), key=lambda c: (not a.eligible[row, c], float(cost[c])))
    result = []
    for col in order:
        ok = bool(a.eligible[row, col])
        if not ok and not include_ineligible:
            break
        km = a.distance[row, col]
        window = a.propose(row, col) if ok else None
        result.append(
            Suggestion(
                engineer=roster.engineers[col],
                eligible=ok,
                distance_km=None if np.isnan(km) else round(float(km), 1),
                load=int(roster.load[col]),
                cap=int(roster.cap[col]),
                cost=float(cost[col]),
                reason=assignment_reason(a, row, col, int(roster.load[col]), window) if ok else _why_not(a, row, col),
                window=window,
            )
        )
        if len(result) >= limit:
            break
    return result


# ------------------------------------------------------------------ automatic dispatch


def _serialize_batches() -> None:
    """One automatic dispatch at a time (PostgreSQL): two overlapping batches must not both fill the same
    slot."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def _load_jobs(request_ids: list[int] | None, lock: bool = True) -> tuple[list[Job], list[dict]]:
    """The requests to dispatch (locked until commit when *lock*); and the ones asked for that cannot be."""
    query = jobs_query().order_by(ServiceRequest.id)
    if lock:
        # Current values, not what the session may hold from before the lock was granted.
        query = query.with_for_update(of=ServiceRequest).execution_options(populate_existing=True)
    if request_ids is None:
        return to_jobs(db.session.scalars(query.where(ServiceRequest.status == AWAITING))), []
    wanted = list(dict.fromkeys(request_ids))
    jobs = to_jobs(db.session.scalars(query.where(ServiceRequest.id.in_(wanted))))
    found = {job.request.id for job in jobs}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ValidationFailed(
            "validation_failed",
            "Some fields are not valid: request_ids.",
            {"request_ids": "No such requests: " + ", ".join(str(i) for i in missing) + "."},
        )
    skipped = []
    for job in jobs:
        if job.request.status == LOCKED:
            skipped.append(
                {
                    "request_id": job.request.id,
                    "code": "locked",
                    "reason": _("Locked: a service manager decides who takes it."),
                }
            )
        elif job.request.status != AWAITING:
            skipped.append(
                {
                    "request_id": job.request.id,
                    "code": "not_awaiting",
                    "reason": _("Not awaiting assignment (%(status)s).", status=job.request.status_label),
                }
            )
    return [job for job in jobs if job.request.status == AWAITING], skipped


def auto_dispatch(request_ids: list[int] | None, actor, *, now: datetime | None = None, apply: bool = True) -> dict:
    """Assign a batch of requests awaiting assignment (all of them when *request_ids* is None) as a whole.

    Returns {"assignments": [{request_id, engineer_id, reason, distance_km}],
    "unassigned": [{request_id, code, reason}]}, the most urgent first. Each assignment goes through
    requests.operations.assign_many (the same rules as perform(..., "assign"), in one batch), so the
    request's timeline records it with its reason; the caller commits. With apply=False nothing is written or
    locked: the answer is the proposal the board shows before the dispatcher confirms.
    """
    now = now or utcnow()
    if apply:
        _serialize_batches()
    jobs, skipped = _load_jobs(request_ids, lock=apply)
    if apply:
        hold(job.request for job in jobs)  # locked above, customers loaded: assign_many reads them no more
    if not jobs:
        return {"assignments": [], "unassigned": skipped}
    roster = load_roster(now)
    a = assess(jobs, roster)
    solution = matching.solve_pruned(a.batch())

    order = sorted(range(len(jobs)), key=lambda r: (a.hours_left[r], jobs[r].request.priority, jobs[r].request.id))
    given = np.zeros(len(roster.engineers), dtype=int)
    planned, unassigned = [], []
    for row in order:
        sr = jobs[row].request
        col = solution.get(row)
        if col is None:
            code, reason = unassigned_reason(a, row)
            unassigned.append({"request_id": sr.id, "code": code, "reason": reason})
            continue
        engineer = roster.engineers[col]
        # The proposal: the engineer's first free window, kept clear of the windows proposed before in this batch.
        window = a.propose(row, col, reserve=True)
        reason = assignment_reason(a, row, col, int(roster.load[col] + given[col]), window)
        given[col] += 1
        km = a.distance[row, col]
        planned.append(
            {
                "request_id": sr.id,
                "engineer_id": engineer.id,
                "reason": reason,
                "distance_km": None if np.isnan(km) else round(float(km), 1),
                "window": window_dict(window),
            }
        )
    refused: dict[int, ApiError] = {}
    if apply:
        # One batch: the rows locked in one query, one UPDATE and one INSERT of events, then every request's
        # signals (requests.operations.assign_many applies the same TRANSITIONS rules as perform).
        _, refused = assign_many(
            [(p["request_id"], p["engineer_id"], p["reason"]) for p in planned],
            actor,
            now=now,
        )
    assignments = [p for p in planned if p["request_id"] not in refused]
    unassigned += [
        {
            "request_id": request_id,
            "code": "refused",
            "reason": _("Refused: %(message)s", message=exc.message),
        }
        for request_id, exc in refused.items()
    ]
    log.info(
        "auto dispatch (%s) by %s: %d assigned, %d left unassigned",
        "applied" if apply else "proposed",
        getattr(actor, "username", "system"),
        len(assignments),
        len(unassigned) + len(skipped),
    )
    return {"assignments": assignments, "unassigned": unassigned + skipped}


# ------------------------------------------------------------------ the board


def board_jobs(zone: str | None = None, category: str | None = None, include_locked: bool = True) -> list[Job]:
    """Unassigned (and locked) requests, most urgent first: least time to the start deadline, priority."""
    statuses = (AWAITING, LOCKED) if include_locked else (AWAITING,)
    deadline = sa.case(
        (ServiceRequest.response_due < ServiceRequest.required_by, ServiceRequest.response_due),
        else_=ServiceRequest.required_by,
    )
    query = (
        jobs_query()
        .where(ServiceRequest.status.in_(statuses))
        .order_by(deadline, ServiceRequest.priority, ServiceRequest.id)
    )
    if zone:
        query = query.where(Customer.zone == zone)
    if category:
        query = query.where(ServiceRequest.service_category == category)
    return to_jobs(db.session.scalars(query))


def zones_and_categories() -> tuple[list[str], list[str]]:
    """The board's filter choices: zones of customers and engineers, categories of skills and requests."""
    categories = set(db.session.scalars(sa.select(EngineerSkill.category).distinct()))
    categories |= set(
        db.session.scalars(
            sa.select(ServiceRequest.service_category).where(ServiceRequest.status.in_((AWAITING, LOCKED))).distinct()
        )
    )
    return zones(), sorted(categories)
