"""The callback desk (rule 5): the queue of resolved requests, failed contact attempts, unreachable closings
and the managers' follow-ups of low scores. The survey itself is the requests domain's `revisit` action.
"""

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from fieldservice.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.core.models import check_version, utcnow
from fieldservice.extensions import db
from fieldservice.reports.models import CustomerRating
from fieldservice.requests import operations as requests_ops
from fieldservice.requests import signals
from fieldservice.requests.models import ServiceRequest, Survey, Visit
from fieldservice.requests.states import CALLBACKS, MANAGE, RESOLVED, UNREACHABLE_AFTER_ATTEMPTS
from fieldservice.revisits.models import CallbackAttempt, FollowUp, UnreachableClosing

log = logging.getLogger("fieldservice.revisits")

SCORES = ("timeliness", "attitude", "quality")
# A score at or below this needs a human follow-up (DOMAIN.md "Analytics").
LOW_SCORE = 3
ATTEMPT_REASONS = ("no_answer", "busy", "switched_off", "wrong_number", "call_back_later", "refused")
FOLLOW_UP_OPEN, FOLLOW_UP_DONE = "open", "done"


def callback_hours() -> float:
    return float(current_app.config.get("FIELDSERVICE_CALLBACK_HOURS", 48))


def max_attempts() -> int:
    return int(current_app.config.get("FIELDSERVICE_CALLBACK_MAX_ATTEMPTS", 3))


def callback_due(sr: ServiceRequest) -> datetime | None:
    return sr.resolved_at + timedelta(hours=callback_hours()) if sr.resolved_at else None


def _invalid(fields: dict) -> ValidationFailed:
    return ValidationFailed(
        "validation_failed", "Some fields are not valid: " + ", ".join(sorted(fields)) + ".", fields
    )


def _require_role(actor, roles, what: str) -> None:
    role = str(getattr(actor, "role", "nobody"))
    if role not in roles:
        raise Forbidden("forbidden", f"Your role ({role}) may not {what}.")


# ---------------------------------------------------------------- the queue


def queue(q: str | None = None, overdue: bool | None = None, now: datetime | None = None) -> sa.Select:
    """Every resolved request waiting for its callback, oldest resolution first."""
    query = requests_ops.filter_requests(sa.select(ServiceRequest), status=RESOLVED, q=q)
    if overdue is not None:
        limit = (now or utcnow()) - timedelta(hours=callback_hours())
        late = ServiceRequest.resolved_at <= limit
        query = query.where(late if overdue else sa.not_(late))
    return query.order_by(None).order_by(ServiceRequest.resolved_at, ServiceRequest.id)


def _attempt_counts(requests: list[ServiceRequest]) -> dict[int, tuple[int, datetime | None]]:
    """(attempts this round, last attempt) per request.

    A round ends with a survey: the `revisit` action reopens a job for an unhappy customer, and once resolved
    again the count starts from zero (`close_unreachable`, the other way out of `resolved`, ends the loop).
    """
    if not requests:
        return {}
    last_survey = (
        sa.select(sa.func.max(Survey.at))
        .where(Survey.request_id == CallbackAttempt.request_id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(CallbackAttempt.request_id, sa.func.count(), sa.func.max(CallbackAttempt.at))
        .where(
            CallbackAttempt.request_id.in_([sr.id for sr in requests]),
            sa.or_(last_survey.is_(None), CallbackAttempt.at > last_survey),
        )
        .group_by(CallbackAttempt.request_id)
    ).all()
    return {request_id: (count, last) for request_id, count, last in rows}


def _latest_ratings(requests: list[ServiceRequest]) -> dict[int, object]:
    if not requests:
        return {}
    ratings = db.session.scalars(
        sa.select(CustomerRating)
        .where(CustomerRating.request_id.in_([sr.id for sr in requests]))
        .order_by(CustomerRating.at, CustomerRating.id)
    )
    return {rating.request_id: rating for rating in ratings}


def queue_entries(requests: list[ServiceRequest], now: datetime | None = None) -> list[dict]:
    """What the agent needs per request to call: due time, contacts, attempts so far and the QR rating."""
    now = now or utcnow()
    counts = _attempt_counts(requests)
    ratings = _latest_ratings(requests)
    entries = []
    for sr in requests:
        due = callback_due(sr)
        attempts, last_attempt = counts.get(sr.id, (0, None))
        rating = ratings.get(sr.id)
        entries.append(
            {
                "request": sr,
                "request_id": sr.id,
                "number": sr.number,
                "version": sr.version,
                "resolved_at": sr.resolved_at,
                "callback_due": due,
                "overdue": due is not None and due <= now,
                "attempts": attempts,
                "max_attempts": max_attempts(),
                "last_attempt_at": last_attempt,
                "customer": sr.customer,
                "contact_name": sr.contact_name,
                "contact_phone": sr.contact_phone or sr.customer.phone,
                "engineer_name": _engineer_name(sr),
                "rating": {"score": rating.score, "comment": rating.comment, "at": rating.at}
                if rating
                else None,
            }
        )
    return entries


def _engineer_name(sr: ServiceRequest) -> str | None:
    if sr.engineer is not None:
        return sr.engineer.name
    visit = db.session.scalars(
        sa.select(Visit).where(Visit.request_id == sr.id).order_by(Visit.id.desc()).limit(1)
    ).first()
    return visit.engineer.name if visit is not None and visit.engineer is not None else None


def attempts_of(sr: ServiceRequest) -> list[CallbackAttempt]:
    return list(
        db.session.scalars(
            sa.select(CallbackAttempt).where(CallbackAttempt.request_id == sr.id).order_by(CallbackAttempt.id)
        )
    )


def current_round_attempts(sr: ServiceRequest) -> int:
    return _attempt_counts([sr]).get(sr.id, (0, None))[0]


# ---------------------------------------------------------------- surveys and attempts


def record_survey(sr: ServiceRequest, data: dict, actor, version: int | None, *, now=None) -> ServiceRequest:
    """The console's survey: every score given, then the `revisit` action (satisfied -> revisited)."""
    scores = data.get("scores") or {}
    fields = {
        f"scores.{name}": "A score is 1 to 5."
        for name in SCORES
        if not isinstance(scores.get(name), int) or not 1 <= scores[name] <= 5
    }
    if data.get("satisfied") is None:
        fields["satisfied"] = "Required for this action."
    if fields:
        raise _invalid(fields)
    return requests_ops.perform(
        sr,
        "revisit",
        actor,
        version,
        now=now,
        satisfied=bool(data["satisfied"]),
        scores={name: scores[name] for name in SCORES},
        comment=data.get("comment"),
    )


def _lock_resolved(sr: ServiceRequest) -> ServiceRequest:
    """Hold the request's row so that two agents' attempts (and a survey) are counted one after the other."""
    locked = db.session.scalars(
        sa.select(ServiceRequest)
        .where(ServiceRequest.id == sr.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if locked.status != RESOLVED:
        raise Conflict(
            "illegal_transition",
            f"This request is {locked.status}, not waiting for a callback.",
            current_status=locked.status,
        )
    return locked


def record_attempt(sr: ServiceRequest, data: dict, actor, *, now: datetime | None = None):
    """Note a call that did not reach the customer; the Nth closes the request as revisited-unreachable.

    Returns (attempt, closing or None).
    """
    now = now or utcnow()
    _require_role(actor, CALLBACKS, "record callback attempts")
    sr = _lock_resolved(sr)
    check_version(sr, data.get("version"))
    if data.get("reason") not in ATTEMPT_REASONS:
        raise _invalid({"reason": "Not one of the listed values."})
    attempt = CallbackAttempt(
        request_id=sr.id,
        reason=data["reason"],
        note=(data.get("note") or "").strip()[:500] or None,
        at=now,
        by_id=actor.id,
    )
    db.session.add(attempt)
    db.session.flush()
    count = current_round_attempts(sr)
    requests_ops.add_event(
        sr,
        "callback_attempt",
        actor,
        sr.status,
        sr.status,
        note=attempt.note,
        data={"reason": attempt.reason, "attempt": count},
        at=now,
    )
    log.info("callback attempt %s on %s by %s (%s)", count, sr.number, actor.username, attempt.reason)
    closing = close_unreachable(sr, actor, count, now=now) if count >= max_attempts() else None
    return attempt, closing


def close_unreachable(sr: ServiceRequest, actor, attempts: int, *, now: datetime) -> UnreachableClosing:
    """Close the loop after too many failed calls, flagged unreachable (never counted as a satisfied survey).

    The requests state machine's `close_unreachable` transition (resolved -> revisited) writes no survey: its
    timeline event carries the reason and `unreachable`, and this closing row lists it for the desk.
    """
    requests_ops.perform(
        sr,
        "close_unreachable",
        actor,
        None,
        now=now,
        reason=UNREACHABLE_AFTER_ATTEMPTS,
        attempts=attempts,
    )
    closing = UnreachableClosing(request_id=sr.id, survey_id=None, attempts=attempts, at=now, by_id=actor.id)
    db.session.add(closing)
    db.session.flush()
    log.info("request %s closed as unreachable after %s attempts by %s", sr.number, attempts, actor.username)
    return closing


def unreachable_closings() -> sa.Select:
    return sa.select(UnreachableClosing).order_by(UnreachableClosing.at.desc(), UnreachableClosing.id.desc())


def count_unreachable(start: datetime | None = None, end: datetime | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(UnreachableClosing)
    if start is not None:
        query = query.where(UnreachableClosing.at >= start)
    if end is not None:
        query = query.where(UnreachableClosing.at < end)
    return db.session.scalar(query)


def is_unreachable(sr: ServiceRequest) -> bool:
    return (
        db.session.scalar(
            sa.select(UnreachableClosing.id).where(UnreachableClosing.request_id == sr.id).limit(1)
        )
        is not None
    )


# ---------------------------------------------------------------- follow-ups


def low_scores(scores: dict | None) -> dict[str, int]:
    return {k: v for k, v in (scores or {}).items() if isinstance(v, int) and v <= LOW_SCORE}


def raise_follow_up(survey: Survey) -> FollowUp | None:
    """A survey with any score of 3 or less gets a manager's follow-up task (once per survey)."""
    low = low_scores({name: getattr(survey, name) for name in SCORES})
    if not low:
        return None
    existing = db.session.scalar(sa.select(FollowUp).where(FollowUp.survey_id == survey.id))
    if existing is not None:
        return existing
    follow_up = FollowUp(
        request_id=survey.request_id, survey_id=survey.id, low_scores=low, status=FOLLOW_UP_OPEN
    )
    db.session.add(follow_up)
    db.session.flush()
    log.info(
        "follow-up %s raised for survey %s of request %s: %s", follow_up.id, survey.id, survey.request_id, low
    )
    return follow_up


def _on_event(sr, event=None, **_kw) -> None:
    # Whatever path recorded the survey (console, API, sync), its low scores reach a manager.
    if event is None or event.action != "revisit" or not (event.data or {}).get("survey_id"):
        return
    survey = db.session.get(Survey, event.data["survey_id"])
    if survey is not None:
        raise_follow_up(survey)


signals.event_added.connect(_on_event)


def follow_ups(status: str | None = FOLLOW_UP_OPEN) -> sa.Select:
    query = sa.select(FollowUp)
    if status:
        query = query.where(FollowUp.status == status)
    return query.order_by(FollowUp.created_at, FollowUp.id)


def get_follow_up(follow_up_id: int) -> FollowUp:
    follow_up = db.session.get(FollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound("not_found", f"No follow-up with id {follow_up_id}.")
    return follow_up


def close_follow_up(follow_up: FollowUp, data: dict, actor, *, now: datetime | None = None) -> FollowUp:
    """A manager records what the follow-up found and did; an event goes on the request's timeline."""
    now = now or utcnow()
    _require_role(actor, MANAGE, "close follow-ups")
    if follow_up.status != FOLLOW_UP_OPEN:
        raise Conflict(
            "illegal_transition", "This follow-up is closed already.", current_status=follow_up.status
        )
    check_version(follow_up, data.get("version"))
    outcome = (data.get("outcome") or "").strip()
    if not outcome:
        raise _invalid({"outcome": "Required for this action."})
    follow_up.status = FOLLOW_UP_DONE
    follow_up.outcome = outcome
    follow_up.done_at = now
    follow_up.done_by_id = actor.id
    db.session.flush()
    sr = follow_up.request
    requests_ops.add_event(
        sr,
        "follow_up",
        actor,
        sr.status,
        sr.status,
        note=outcome,
        data={"follow_up_id": follow_up.id},
        at=now,
    )
    log.info("follow-up %s closed by %s", follow_up.id, actor.username)
    return follow_up


# ---------------------------------------------------------------- analytics


def satisfaction(dimension: str, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """Surveys per engineer, product or month: count, satisfied share, average scores.

    Unreachable closings write no survey (the `close_unreachable` transition), so they are never counted here.

    The engineer is the one whose visit resolved the job the survey was about (the last visit before it).
    """
    last_visit = (
        sa.select(Visit.engineer_id)
        .where(Visit.request_id == Survey.request_id, Visit.finished_at <= Survey.at)
        .order_by(Visit.id.desc())
        .limit(1)
        .correlate(Survey)
        .scalar_subquery()
    )
    if dimension == "engineer":
        key = last_visit
    elif dimension == "product":
        key = ServiceRequest.product_id
    elif dimension == "month":
        key = sa.func.substr(sa.cast(Survey.at, sa.String), 1, 7)
    else:
        raise ValueError(f"unknown dimension {dimension!r}")
    query = (
        sa.select(
            key.label("key"),
            sa.func.count(Survey.id),
            sa.func.sum(sa.case((Survey.satisfied, 1), else_=0)),
            *(sa.func.avg(getattr(Survey, name)) for name in SCORES),
        )
        .join(ServiceRequest, ServiceRequest.id == Survey.request_id)
        .group_by(key)
        .order_by(key)
    )
    if start is not None:
        query = query.where(Survey.at >= start)
    if end is not None:
        query = query.where(Survey.at < end)
    return [
        {
            "key": row[0],
            "surveys": row[1],
            "satisfied": int(row[2] or 0),
            "satisfaction": round((row[2] or 0) / row[1], 4) if row[1] else None,
            **{
                name: round(float(v), 2) if v is not None else None
                for name, v in zip(SCORES, row[3:], strict=True)
            },
        }
        for row in db.session.execute(query).all()
    ]
