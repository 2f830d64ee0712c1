"""Engineer profiles, leave, load and eligibility: the writes and the rules. They flush, never commit."""

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from fieldservice.auth import operations as auth_ops
from fieldservice.auth.models import Role
from fieldservice.core.errors import Conflict, NotFound, ValidationFailed
from fieldservice.core.models import check_version, transaction_cache, utcnow
from fieldservice.customers.categories import category_label
from fieldservice.engineers import schedule
from fieldservice.engineers.models import Engineer, EngineerLeave, EngineerSkill
from fieldservice.extensions import db
from fieldservice.requests.signals import status_changed

log = logging.getLogger("fieldservice.engineers")

# The statuses in which a request counts against its engineer's cap: they own it until it is resolved or
# returned.
LOAD_STATUSES = ("assigned", "locked")
PROFILE_FIELDS = ("name", "phone", "zone", "lat", "lng", "max_open_jobs", "work_start", "work_end", "active")


def _who(actor) -> str:
    return getattr(actor, "username", None) or "system"


def get_engineer(engineer_id: int) -> Engineer:
    engineer = db.session.get(Engineer, engineer_id)
    if engineer is None:
        raise NotFound("not_found", f"No engineer with id {engineer_id}.")
    return engineer


def engineer_for_user(user) -> Engineer | None:
    """The engineer profile of *user*, or None; asked of the database once per transaction (a sync batch or an
    automatic dispatch checks it for every change)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    known = transaction_cache("engineer_for_user")
    engineer = known.get(user.id)
    if engineer is not None and engineer in db.session:
        return engineer
    engineer = db.session.scalar(sa.select(Engineer).where(Engineer.user_id == user.id))
    if engineer is not None:
        known[user.id] = engineer
    return engineer


def _validate_profile(data: dict, engineer: Engineer | None = None) -> None:
    """Cross-field rules the schemas cannot see alone (a PATCH sends only some fields)."""
    fields = {}

    def value(key):
        return data[key] if key in data else getattr(engineer, key, None)

    if (value("lat") is None) != (value("lng") is None):
        fields["lat" if "lat" in data else "lng"] = "Give both latitude and longitude, or neither."
    if "max_open_jobs" in data and data["max_open_jobs"] is not None and not 1 <= data["max_open_jobs"] <= 50:
        fields["max_open_jobs"] = "Between 1 and 50."
    if fields:
        raise ValidationFailed("validation_failed", "Some fields are not valid.", fields)


def _skills(categories) -> list[EngineerSkill]:
    return [EngineerSkill(category=c.strip()) for c in sorted({c.strip() for c in categories if c and c.strip()})]


def create_engineer(data: dict, actor) -> Engineer:
    """Create an engineer's login (role engineer) and profile, with skills (product categories)."""
    _validate_profile(data)
    user = auth_ops.create_user(
        data["username"], data["password"], Role.ENGINEER, name=data["name"], phone=data.get("phone")
    )
    engineer = Engineer(
        user=user,
        name=data["name"],
        phone=data.get("phone"),
        zone=data.get("zone"),
        lat=data.get("lat"),
        lng=data.get("lng"),
        max_open_jobs=data.get("max_open_jobs") or 5,
        skills=_skills(data.get("skills") or []),
    )
    for key in ("work_start", "work_end"):
        if data.get(key) is not None:
            setattr(engineer, key, data[key])
    if data.get("work_days"):
        engineer.work_days = schedule.format_work_days(data["work_days"])
    db.session.add(engineer)
    db.session.flush()
    log.info("engineer %s (%s) created by %s", engineer.id, user.username, _who(actor))
    return engineer


def update_engineer(engineer: Engineer, data: dict, actor) -> Engineer:
    """Change an engineer's profile (only the fields in *data*); `version` guards against lost updates."""
    data = dict(data)
    check_version(engineer, data.pop("version", None))
    _validate_profile(data, engineer)
    # One UPDATE, so one version step per edit: loading the skills must not flush the half-made change.
    with db.session.no_autoflush:
        for key in PROFILE_FIELDS:
            if key in data:
                setattr(engineer, key, data[key])
        if "work_days" in data:
            engineer.work_days = schedule.format_work_days(data["work_days"])
        if "skills" in data:
            wanted = {s.category for s in _skills(data["skills"])}
            engineer.skills = [s for s in engineer.skills if s.category in wanted] + [
                EngineerSkill(category=c) for c in sorted(wanted - set(engineer.skill_categories))
            ]
        if "name" in data or "phone" in data:
            engineer.user.name, engineer.user.phone = engineer.name, engineer.phone
        # Touch the row even when only skills (child rows) changed: the version must move for other editors.
        engineer.updated_at = utcnow()
    db.session.flush()
    log.info("engineer %s updated by %s: %s", engineer.id, _who(actor), sorted(data))
    return engineer


def add_leave(engineer: Engineer, data: dict, actor) -> EngineerLeave:
    """Record a leave period; it may not overlap another one of the same engineer."""
    starts_at, ends_at = data["starts_at"], data["ends_at"]
    if ends_at <= starts_at:
        raise ValidationFailed(
            "validation_failed",
            "Some fields are not valid.",
            {"ends_at": "The leave must end after it starts."},
        )
    overlapping = db.session.scalar(
        sa.select(EngineerLeave).where(
            EngineerLeave.engineer_id == engineer.id,
            EngineerLeave.starts_at < ends_at,
            EngineerLeave.ends_at > starts_at,
        )
    )
    if overlapping is not None:
        raise ValidationFailed(
            "leave_overlaps",
            "This leave overlaps another one.",
            {"starts_at": "Overlaps another leave period."},
        )
    leave = EngineerLeave(engineer=engineer, starts_at=starts_at, ends_at=ends_at, reason=data.get("reason"))
    db.session.add(leave)
    db.session.flush()
    log.info("leave %s (%s..%s) added to engineer %s by %s", leave.id, starts_at, ends_at, engineer.id, _who(actor))
    return leave


def remove_leave(engineer: Engineer, leave_id: int, actor) -> None:
    leave = db.session.get(EngineerLeave, leave_id)
    if leave is None or leave.engineer_id != engineer.id:
        raise NotFound("not_found", f"No leave with id {leave_id} for this engineer.")
    log.info("leave %s removed from engineer %s by %s", leave.id, engineer.id, _who(actor))
    db.session.delete(leave)
    db.session.flush()


def open_load(engineer_ids) -> dict[int, int]:
    """How many open jobs each engineer holds now (every id is in the answer, 0 when none)."""
    from fieldservice.requests.models import ServiceRequest

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


def start_deadline(request_model):
    """SQL: when work must start, the earlier of the response due time and the customer's date."""
    return sa.case(
        (request_model.response_due < request_model.required_by, request_model.response_due),
        else_=request_model.required_by,
    )


def claim_pool(engineer: Engineer) -> sa.Select:
    """Requests this engineer could claim: awaiting assignment, of their skills, in their zone (if any)."""
    from fieldservice.customers.models import Customer
    from fieldservice.requests.models import ServiceRequest

    query = (
        sa.select(ServiceRequest)
        .join(Customer, Customer.id == ServiceRequest.customer_id)
        .where(
            ServiceRequest.status == "awaiting_assignment",
            ServiceRequest.service_category.in_(engineer.skill_categories),
        )
        .order_by(start_deadline(ServiceRequest), ServiceRequest.priority, ServiceRequest.id)
    )
    if engineer.zone:
        # A customer without a zone is nobody's: everyone skilled sees it rather than no one.
        query = query.where(sa.or_(Customer.zone == engineer.zone, Customer.zone.is_(None)))
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
