"""Engineer profiles, skills, zones and leave: the writes and the rules. They flush, never commit."""

import logging

import sqlalchemy as sa

from fieldservice.auth import operations as auth_ops
from fieldservice.auth.models import Role
from fieldservice.core.errors import NotFound, ValidationFailed
from fieldservice.core.models import check_version, transaction_cache, utcnow
from fieldservice.customers.models import Customer
from fieldservice.engineers import schedule, signals
from fieldservice.engineers.models import Engineer, EngineerLeave, EngineerSkill
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.engineers")

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


def zones() -> list[str]:
    """The zones in use: of customers and of engineers, sorted (the filters' choices)."""
    found = set(db.session.scalars(sa.select(Customer.zone).where(Customer.zone.is_not(None)).distinct()))
    found |= set(db.session.scalars(sa.select(Engineer.zone).where(Engineer.zone.is_not(None)).distinct()))
    return sorted(found)


def current_loads(engineer_ids) -> dict[int, int]:
    """How many open jobs each engineer holds now (every id is in the answer, 0 when none).

    Jobs are requests, a layer above: the domain that counts them answers signals.loads_wanted.
    """
    ids = list(engineer_ids)
    loads = dict.fromkeys(ids, 0)
    if ids:
        for _receiver, counted in signals.loads_wanted.send(ids):
            loads.update(counted)
    return loads
