"""The engineers' sync protocol (API.md "Engineer sync"): apply the phone's queued ops, send it what changed.

Ops apply in the order the phone made them, each in its own savepoint, and each leaves an AppliedOp row in
the same transaction: a replay finds the row (`duplicate`). A batch first locks its jobs, so a copy of it
arriving at once waits, then finds the rows; two batches that still both apply an op collide on the row's
primary key, and only one of them changes anything. A refused op is recorded with its reason and the batch
goes on; later ops of the same job in the batch depend on it and are refused too.
"""

import logging
import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from marshmallow import ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import selectinload

from fieldservice.appointments import operations as appointments_ops
from fieldservice.core.api import strict_type_errors
from fieldservice.core.errors import (
    INVALID_VALUE,
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    flatten_messages,
)
from fieldservice.core.guard import check_json
from fieldservice.core.images import MAX_UPLOAD_BYTES, clean_image
from fieldservice.core.links import customer_page_url
from fieldservice.core.models import utcnow
from fieldservice.customers.models import Customer
from fieldservice.engineers.operations import engineer_for_user
from fieldservice.extensions import db
from fieldservice.knowledge.search import search
from fieldservice.parts import stock as parts_stock
from fieldservice.reports.operations import current_tokens
from fieldservice.requests import operations as requests_ops
from fieldservice.requests.models import Attachment, ProblemType, RequestEvent, ServiceRequest, Visit
from fieldservice.requests.states import ASSIGNED, RESOLVED
from fieldservice.settlement import operations as settlement_ops
from fieldservice.sync.models import AppliedOp, OpStatus, UploadInProgress
from fieldservice.sync.schemas import PAYLOADS, OpEnvelope

log = logging.getLogger("fieldservice.sync")

# A pull re-sends what changed this long before the cursor: a commit that started before the cursor's clock
# reading and finished after it would otherwise be missed. A job sent twice is harmless.
PULL_OVERLAP = timedelta(seconds=5)
# Resolved jobs stay on the phone this long, so the engineer sees the day's finished work.
RESOLVED_KEPT = timedelta(days=3)
KNOWLEDGE_HINTS = 3
HISTORY_REQUESTS = 5
# The job-list actions an op of each type takes (perform); the others have their own function below.
ACTION_OPS = ("accept", "depart", "arrive", "hand_back", "claim", "urge")
VISIT_OPS = ("record_visit", "visit")
# The engineer's day on a job, the bulk of a batch: what a run of them writes (the jobs' changes, their timeline
# events, visits, images, verifications, customer messages) is stored at the run's end (requests_ops.
# TimelineStoredLater). Their receivers read no timeline and book no appointment.
STORED_LATER = ("accept", "depart", "arrive", "note", *VISIT_OPS)
ADVICE = {
    "job_reassigned": ("Your entries stay on the phone. Call the dispatcher; discard them once the job is settled."),
    "stale_version": "The job changed on the server. Check it, then retry or discard your change.",
    "illegal_transition": ("The job is no longer in a state that allows this. Check it, then discard your change."),
    "validation_failed": "Correct the entries named and send again.",
    "depends_on_rejected": "An earlier change to this job was refused: deal with that one first.",
    "not_found": "The server does not know this job. Discard the change.",
    "attachment_missing": "The photo or signature has not reached the server yet: retry.",
    "attachment_in_use": "These photos are already on another visit: discard this change.",
    "taken": "Someone else took this job first. Discard your claim and pick another job from the pool.",
    "double_booked": "Another of your jobs is booked at that time (travel included): choose another window.",
    "outside_shift": "The window is outside your working hours: choose another.",
    "on_leave": "You are on leave then: choose another window.",
    "reason_required": "Say why the appointment changes.",
    "conflict": (
        "Keep yours: send the edit again with base_version set to the version given. Take theirs: discard it."
    ),
}


# Built once: a schema instance holds no state between loads, and building one copies every field.
_ENVELOPE = OpEnvelope()
_PAYLOADS = {op_type: schema() for op_type, schema in PAYLOADS.items()}


class Rejected(ApiError):
    """An op refused before anything is touched (job reassigned, photo missing, depends on a refused op)."""

    status = 409


# ---------------------------------------------------------------- push: applying ops


def apply_batch(user, raw_ops: list[dict], now: datetime | None = None) -> list[dict]:
    """Apply *raw_ops* in order for *user*; one commit at the end. One result per op.

    The batch first runs in one savepoint, its ops without savepoints of their own (two statements fewer per
    op): an op refused before it touches anything (its envelope, its payload, an earlier refusal of its job)
    is recorded as refused and the batch goes on. Should an op be refused once it began (a rule of the
    operation, a value the database refuses), the batch is undone and applied again with each op in a
    savepoint of its own, so that the refused one leaves nothing behind.

    The AppliedOp rows are written together after the last op (one statement for the batch). Should one of
    them collide with a concurrent batch's, the batch is undone and applied again with each op's row written
    with the op, so that the ops the other batch applied answer duplicate and the rest apply.
    """
    # One query finds every replayed op: a batch sent twice costs almost nothing the second time.
    seen = _applied_ops([raw["op_id"] for raw in raw_ops])
    if len(seen) == len({raw["op_id"] for raw in raw_ops}):
        return [_duplicate(seen[raw["op_id"]], user) for raw in raw_ops]
    batch = db.session.begin_nested()
    try:
        try:
            results = _apply_ops(user, raw_ops, now, guarded=False, records_with_ops=False, seen=seen)
        except _RefusedMidway:
            batch.rollback()
            batch = db.session.begin_nested()
            results = _apply_ops(user, raw_ops, now, guarded=True, records_with_ops=False)
        batch.commit()
    except IntegrityError:
        batch.rollback()
        log.info("sync batch of %s collided with a concurrent one: applying op by op", user.username)
        results = _apply_ops(user, raw_ops, now, guarded=True, records_with_ops=True)
    except BaseException:
        batch.rollback()
        raise
    db.session.commit()
    return results


class _RefusedMidway(Exception):
    """An op of an unguarded batch was refused after it began: the batch must be applied again, guarded."""


def _apply_ops(
    user, raw_ops: list[dict], now: datetime | None, guarded: bool, records_with_ops: bool, seen=None
) -> list[dict]:
    """Apply the batch's new ops (see apply_batch); *seen*: the batch's ops applied before, when just read."""
    engineer = engineer_for_user(user)
    if seen is None:
        seen = _applied_ops([raw["op_id"] for raw in raw_ops])
    new_ops = [raw for raw in raw_ops if raw["op_id"] not in seen]
    # One query loads and locks the new ops' jobs (in id order) until the commit: each op finds its job in the
    # session and the request operations do not lock it again. A copy of this batch sent at the same moment
    # waits here; once it has the rows, it asks again which ops are applied and finds the other's.
    request_ids = {raw.get("request_id") for raw in new_ops if _valid_id(raw.get("request_id"))}
    jobs = requests_ops.lock_requests(request_ids)
    if jobs:
        seen.update(_applied_ops([raw["op_id"] for raw in new_ops]))
        appointments_ops.preload_booked(jobs)
        requests_ops.preload_visits_by_op(raw["op_id"] for raw in new_ops if raw.get("type") in VISIT_OPS)
    # Unguarded, a run of STORED_LATER ops is stored at its end (requests_ops.TimelineStoredLater); an op of another
    # type first has the run stored, and runs as it always does.
    later = None if guarded else requests_ops.timeline_stored_later()
    run_left = _runs_stored_later(raw_ops, seen) if later is not None else []
    refused_jobs: dict[int, str] = {}
    applied_jobs: set[int] = set()
    new_records: list[AppliedOp] = []
    results = []
    for i, raw in enumerate(raw_ops):
        record = seen.get(raw["op_id"])
        if record is not None:
            result = _duplicate(record, user)
        else:
            if guarded:
                result, record = apply_op(
                    user, engineer, raw, refused_jobs, now=now, applied_jobs=applied_jobs, store=records_with_ops
                )
            elif later is not None and run_left[i][0]:
                later.expected = {RequestEvent: run_left[i][0], Visit: run_left[i][1]}
                with requests_ops.storing_later(later):
                    result, record = _apply_unguarded(user, engineer, raw, refused_jobs, now, applied_jobs)
            else:
                if later is not None:
                    _store_later(later)
                result, record = _apply_unguarded(user, engineer, raw, refused_jobs, now, applied_jobs)
            if record is not None:
                seen[record.op_id] = record
                if not records_with_ops:
                    new_records.append(record)
                if record.status == OpStatus.APPLIED and record.request_id is not None:
                    applied_jobs.add(record.request_id)
        if _blocks_later_ops(result) and isinstance(raw.get("request_id"), int):
            refused_jobs.setdefault(raw["request_id"], raw["op_id"])
        results.append(result)
    if later is not None:
        _store_later(later)
    if new_records:
        columns = [c.key for c in AppliedOp.__table__.columns]
        db.session.execute(
            sa.insert(AppliedOp.__table__), [{key: getattr(r, key) for key in columns} for r in new_records]
        )
    del jobs
    return results


def _runs_stored_later(raw_ops: list[dict], seen: dict) -> list[tuple[int, int]]:
    """For each op: (0, 0) unless it is a new STORED_LATER op, else how many such ops, and how many visits, its run
    has from it on (the events and visits to draw ids for); an op of another type ends a run, a duplicate does not."""
    left, ops, visits = [], 0, 0
    for raw in reversed(raw_ops):
        if raw["op_id"] in seen:
            left.append((0, 0))
            continue
        if raw.get("type") in STORED_LATER:
            ops, visits = ops + 1, visits + (raw.get("type") in VISIT_OPS)
        else:
            ops = visits = 0
        left.append((ops, visits))
    return left[::-1]


def _store_later(later) -> None:
    """Write the run's kept rows, or have the batch applied again op by op (guarded) when the run was not exact."""
    if not later.intact():
        raise _RefusedMidway("a savepoint rolled back, or a job changed, between the run's ops")
    try:
        later.store()
    except DataError as exc:  # a value of one of the run's ops: applied op by op, it is refused alone
        raise _RefusedMidway("the database refused a value of the run") from exc


def _blocks_later_ops(result: dict) -> bool:
    """Whether the job's later ops in the batch depend on this refused one. An edit refused for a conflict does
    not: the job's state is untouched, and each later edit is merged by field on its own."""
    if result["status"] != OpStatus.REJECTED:
        return False
    return result.get("error", {}).get("code") != "conflict"


def _applied_ops(op_ids: list[str]) -> dict[str, AppliedOp]:
    if not op_ids:
        return {}
    return {r.op_id: r for r in db.session.scalars(sa.select(AppliedOp).where(AppliedOp.op_id.in_(op_ids)))}


def _valid_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def _duplicate(record: AppliedOp | None, user) -> dict:
    if record is None:  # applied by a concurrent batch we cannot see yet: it is applied there
        return {"status": OpStatus.DUPLICATE}
    if record.user_id != user.id:
        return {
            "op_id": record.op_id,
            "status": OpStatus.REJECTED,
            "error": {"code": "op_id_taken", "message": "Another user sent an op with this id."},
        }
    result = {"op_id": record.op_id, "status": OpStatus.DUPLICATE, "original_status": record.status}
    if record.error:
        result["error"] = record.error
    if record.result:
        result["result"] = record.result
    return result


def _record(user, raw: dict, status: str, **values) -> AppliedOp:
    request_id = raw.get("request_id")
    return AppliedOp(
        op_id=raw["op_id"],
        user_id=user.id,
        request_id=request_id if _valid_id(request_id) else None,
        type=str(raw.get("type"))[:20],
        status=status,
        applied_at=utcnow(),
        **values,
    )


def _answer(record: AppliedOp) -> dict:
    result = {"op_id": record.op_id, "status": record.status}
    if record.error:
        result["error"] = record.error
    if record.result:
        result["result"] = record.result
    return result


def apply_op(
    user,
    engineer,
    raw: dict,
    refused_jobs: dict[int, str],
    now: datetime | None = None,
    applied_jobs: set[int] | frozenset = frozenset(),
    store: bool = True,
):
    """Apply one op in a savepoint; returns (result, its AppliedOp record). Content never raises.

    *store*: write the record inside the op's savepoint (else the caller writes it). The caller commits. A
    concurrent copy of the op that got past the job's row lock waits on the AppliedOp primary key until this
    transaction ends; then its row insert collides, its savepoint rolls back whatever it did, and it answers
    duplicate. *applied_jobs*: the jobs this batch changed already (the engineer held them).
    """
    savepoint = db.session.begin_nested()
    try:
        try:
            envelope = _checked_envelope(raw, refused_jobs)
            sr = _job_for(envelope, user, engineer, raw["op_id"], applied_jobs)
            result = _run(envelope, sr, user, raw["op_id"], now)
            record = _record(user, raw, OpStatus.APPLIED, client_time=envelope["client_time"], result=result)
        except (ApiError, DataError) as exc:
            savepoint.rollback()
            savepoint = db.session.begin_nested()
            record = _rejected(user, raw, exc)
        if store:
            db.session.add(record)
            db.session.flush()
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        return {**_duplicate(db.session.get(AppliedOp, raw["op_id"]), user), "op_id": raw["op_id"]}, None
    except BaseException:
        savepoint.rollback()
        raise
    return _answer(record), record


def _apply_unguarded(user, engineer, raw: dict, refused_jobs: dict[int, str], now, applied_jobs):
    """apply_op without a savepoint of its own, for a batch undone whole when one of its ops is refused once it
    began (raises _RefusedMidway); an op refused before it touches anything is recorded as refused here."""
    try:
        envelope = _checked_envelope(raw, refused_jobs)
        sr = _job_for(envelope, user, engineer, raw["op_id"], applied_jobs)
    except ApiError as exc:
        record = _rejected(user, raw, exc)
        return _answer(record), record
    try:
        result = _run(envelope, sr, user, raw["op_id"], now)
    except (ApiError, DataError) as exc:
        raise _RefusedMidway(raw["op_id"]) from exc
    record = _record(user, raw, OpStatus.APPLIED, client_time=envelope["client_time"], result=result)
    return _answer(record), record


def _checked_envelope(raw: dict, refused_jobs: dict[int, str]) -> dict:
    """The op's envelope and payload, checked; refused (ApiError) before anything is touched."""
    unstorable = check_json(raw)
    if unstorable:
        raise _invalid(unstorable)
    envelope = _envelope(raw)
    if envelope["request_id"] in refused_jobs:
        raise Rejected(
            "depends_on_rejected",
            f"An earlier change to this job ({refused_jobs[envelope['request_id']]}) was refused.",
            depends_on=refused_jobs[envelope["request_id"]],
        )
    return envelope


def _rejected(user, raw: dict, exc: ApiError | DataError) -> AppliedOp:
    if isinstance(exc, DataError):
        exc = ValidationFailed("invalid_value", INVALID_VALUE)
    log.info("sync op %s (%s) of %s rejected: %s", raw["op_id"], raw.get("type"), user.username, exc.code)
    return _record(user, raw, OpStatus.REJECTED, error=_error(exc))


def _invalid(messages) -> ValidationFailed:
    fields = flatten_messages(messages)
    return ValidationFailed(
        "validation_failed", "Some fields are not valid: " + ", ".join(sorted(fields)) + ".", fields
    )


def _envelope(raw: dict) -> dict:
    try:
        envelope = _ENVELOPE.load({k: raw.get(k) for k in ("type", "request_id", "payload", "client_time")})
        payload_schema = _PAYLOADS[envelope["type"]]
        if coerced := strict_type_errors(payload_schema, envelope["payload"]):
            raise ValidationError(coerced)
        envelope["payload"] = payload_schema.load(envelope["payload"])
    except ValidationError as exc:
        raise _invalid(exc.messages) from exc
    if envelope["type"] == "visit":
        envelope["type"] = "record_visit"
    return envelope


def _error(exc: ApiError) -> dict:
    error = {"code": exc.code, "message": exc.message}
    if isinstance(exc, requests_ops.FieldConflict):
        error["fields"] = exc.fields
    elif exc.fields:
        error["fields"] = {k: str(v) for k, v in exc.fields.items()}
    if exc.code in ADVICE:
        error["advice"] = ADVICE[exc.code]
    if exc.extra.get("depends_on"):
        error["depends_on"] = exc.extra["depends_on"]
    if exc.code == "double_booked":
        error["other_job"] = {"id": exc.fields["request_id"], "number": exc.extra.get("number")}
    return error


def _had_job(user, engineer, sr: ServiceRequest, op_id: str | None, applied_jobs=frozenset()) -> bool:
    """Whether the job was once this engineer's: then the phone may hear that it was reassigned."""
    if sr.id in applied_jobs:
        return True
    if db.session.scalar(
        sa.select(AppliedOp.op_id)
        .where(
            AppliedOp.user_id == user.id,
            AppliedOp.request_id == sr.id,
            AppliedOp.status == OpStatus.APPLIED,
            AppliedOp.op_id != (op_id or ""),
        )
        .limit(1)
    ):
        return True
    assignments = db.session.scalars(
        sa.select(RequestEvent.data).where(
            RequestEvent.request_id == sr.id, RequestEvent.action.in_(("assign", "claim"))
        )
    )
    return any((data or {}).get("engineer_id") == engineer.id for data in assignments)


def _job_for(envelope: dict, user, engineer, op_id: str | None = None, applied_jobs=frozenset()) -> ServiceRequest:
    """The op's request, refused as reassigned when the engineer no longer holds it (and once did)."""
    if engineer is None:
        raise Forbidden("not_an_engineer", "Only an engineer with a profile syncs jobs.")
    sr = db.session.get(ServiceRequest, envelope["request_id"])
    if envelope["type"] == "claim":
        if sr is None:
            raise NotFound("not_found", f"No job with id {envelope['request_id']}.")
        if sr.engineer_id is not None and sr.engineer_id != engineer.id:
            raise Rejected("taken", f"Job {sr.number} was taken by someone else first.")
        return sr
    if sr is not None and sr.engineer_id == engineer.id:
        return sr
    if sr is not None and _had_job(user, engineer, sr, op_id, applied_jobs):
        raise Rejected(
            "job_reassigned",
            f"Job {sr.number} was reassigned or returned to the pool while you were offline.",
        )
    raise NotFound("not_found", f"No job with id {envelope['request_id']} is yours.")


def _run(envelope: dict, sr: ServiceRequest, user, op_id: str, now: datetime | None) -> dict:
    op_type, payload = envelope["type"], dict(envelope["payload"])
    version = payload.pop("version", None)
    if op_type in ACTION_OPS:
        sr = requests_ops.perform(sr, op_type, user, version, now=now, **payload)
        return {"version": sr.version, "status": sr.status}
    if op_type == "record_visit":
        payload["client_op_id"] = op_id
        visit = requests_ops.record_visit(sr, payload, user, version, now=now)
        # sr is the visit's request (the session holds one object per row); a visit of a run is not stored yet.
        return {"visit_id": visit.id, "version": sr.version, "status": sr.status}
    if op_type in ("visit_items", "resubmit"):
        return _settle(sr, op_type, payload, version, user)
    if op_type == "appointment":
        sr, warnings = appointments_ops.book_appointment(sr, payload, user, version, now=now)
        return {
            "version": sr.version,
            "status": sr.status,
            "appointment": appointments_ops.as_dict(appointments_ops.current_appointment(sr.id)),
            "warnings": [w["code"] for w in warnings],
        }
    if op_type == "edit":
        sr = requests_ops.edit_details(sr, payload["changes"], user, base_version=payload["base_version"])
        return {"version": sr.version, "status": sr.status, "fields": sorted(payload["changes"])}
    if op_type == "note":
        event = requests_ops.add_event(sr, "note", user, sr.status, sr.status, note=payload["note"], at=now)
        return {"event_id": event.id}
    return _attach_photo(sr, payload, user, now)


def _settle(sr: ServiceRequest, op_type: str, payload: dict, version: int | None, user) -> dict:
    """A returned visit corrected on the phone: its repair items, then its resubmission for verification."""
    visit = db.session.get(Visit, payload["visit_id"])
    if visit is None or visit.request_id != sr.id:
        raise NotFound("not_found", f"No visit {payload['visit_id']} on job {sr.number}.")
    if op_type == "visit_items":
        settlement_ops.set_visit_items(visit, payload["items"], user)
        return {"visit_id": visit.id}
    verification = settlement_ops.verification_of(visit.id)
    if verification is None:
        raise NotFound("not_found", f"Visit {visit.id} is not waiting for verification.")
    verification = settlement_ops.perform_verification(verification, "resubmit", user, version)
    return {"visit_id": visit.id, "status": verification.status, "version": verification.version}


def _attach_photo(sr: ServiceRequest, payload: dict, user, now) -> dict:
    attachment = db.session.get(Attachment, payload["attachment_id"])
    if attachment is None or attachment.request_id != sr.id:
        raise Rejected("attachment_missing", "The photo was not uploaded for this job.")
    event = requests_ops.add_event(
        sr,
        "photo",
        user,
        sr.status,
        sr.status,
        note=payload.get("caption"),
        data={"attachment_id": attachment.id},
        at=now,
    )
    return {"attachment_id": attachment.id, "event_id": event.id}


# ---------------------------------------------------------------- attachments


IMAGE_TYPE = re.compile(r"^image/(png|jpeg|webp)$")


def upload_attachment(user, attachment_id: str, request_id: int, kind: str, content_type: str, raw: bytes):
    """Store a photo or signature the phone made offline; the same id twice stores it once (idempotent).

    The bytes decide what is stored (core.images: decoded, checked and encoded again); a declared type that is
    not an image is refused as well, so a client sending the wrong thing hears why."""
    engineer = engineer_for_user(user)
    sr = _job_for({"type": "attach_photo", "request_id": request_id}, user, engineer)
    content_type = (content_type or "").split(";")[0].strip().lower()
    fields = {}
    if not IMAGE_TYPE.match(content_type):
        fields["content_type"] = "A PNG, JPEG or WebP image."
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", attachment_id):
        fields["attachment_id"] = "Letters, digits, - and _ only."
    if not fields:
        try:
            content_type, raw = clean_image(raw, "body", kind)
        except ValidationFailed as exc:
            fields.update(exc.fields)
    if fields:
        raise ValidationFailed(
            "validation_failed", "Some fields are not valid: " + ", ".join(sorted(fields)) + ".", fields
        )
    return requests_ops.add_attachment(sr, kind, content_type, raw, user, attachment_id=attachment_id)


# ---------------------------------------------------------------- pull: what changed


def _cursor_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="fieldservice-sync-cursor")


def make_cursor(at: datetime, job_ids) -> str:
    """An opaque cursor: when the pull ran and which jobs the phone then held (to tell it which left)."""
    return _cursor_serializer().dumps({"t": at.timestamp(), "ids": sorted(job_ids)})


def read_cursor(cursor: str) -> tuple[datetime, set[int]]:
    from datetime import UTC

    try:
        data = _cursor_serializer().loads(cursor)
        return datetime.fromtimestamp(float(data["t"]), UTC), {int(i) for i in data["ids"]}
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed(
            "invalid_cursor",
            "This cursor is not valid: pull without since.",
            {"since": "Not a cursor of this server."},
        ) from exc


def _jobs_query(engineer, now: datetime) -> sa.Select:
    return sa.select(ServiceRequest).where(
        ServiceRequest.engineer_id == engineer.id,
        sa.or_(
            ServiceRequest.status == ASSIGNED,
            sa.and_(ServiceRequest.status == RESOLVED, ServiceRequest.resolved_at >= now - RESOLVED_KEPT),
        ),
    )


# What a job's view reads besides its row, loaded for a whole list of jobs at once.
JOB_LOADS = (
    selectinload(ServiceRequest.customer).selectinload(Customer.contacts),
    selectinload(ServiceRequest.product),
    selectinload(ServiceRequest.equipment),
    selectinload(ServiceRequest.events),
    selectinload(ServiceRequest.visits).selectinload(Visit.costs),
)


def pull(user, since: str | None, now: datetime | None = None, *, reference: bool = True) -> dict:
    """The caller's jobs changed since *since* (all without it), the ids it must drop, and the next cursor; with
    *reference*, the reference data the phone keeps (_reference)."""
    now = now or utcnow()
    engineer = engineer_for_user(user)
    if engineer is None:
        raise Forbidden("not_an_engineer", "Only an engineer with a profile syncs jobs.")
    held: set[int] = set()
    changed_after = None
    if since:
        changed_after, held = read_cursor(since)
        changed_after -= PULL_OVERLAP
    current = set(db.session.scalars(_jobs_query(engineer, now).with_only_columns(ServiceRequest.id)))
    query = _jobs_query(engineer, now).order_by(ServiceRequest.required_by, ServiceRequest.id)
    if changed_after is not None:
        query = query.where(
            sa.or_(
                ServiceRequest.id.not_in(held) if held else sa.true(),
                ServiceRequest.id.in_(_changed_ids(changed_after)),
            )
        )
    jobs = db.session.scalars(query.options(*JOB_LOADS)).all()
    answer = {"jobs": job_views(jobs, user), "removed": sorted(held - current), "cursor": make_cursor(now, current)}
    if reference:
        answer["reference"] = _reference(engineer)
    return answer


def _changed_ids(after: datetime) -> sa.Select:
    """Requests changed after *after*: the row itself, a new timeline event, or its customer's details."""
    return sa.union(
        sa.select(ServiceRequest.id).where(ServiceRequest.updated_at > after),
        sa.select(RequestEvent.request_id).where(RequestEvent.at > after),
        sa.select(ServiceRequest.id)
        .join(Customer, Customer.id == ServiceRequest.customer_id)
        .where(Customer.updated_at > after),
    )


def _progress(events) -> dict:
    progress = {"accepted_at": None, "departed_at": None, "arrived_at": None}
    for event in events:
        # The latest of each step counts: a job handed back and reassigned starts over.
        if event.action in ("assign", "claim"):
            progress = dict.fromkeys(progress)
        key = {"accept": "accepted_at", "depart": "departed_at", "arrive": "arrived_at"}.get(event.action)
        if key:
            progress[key] = event.at
    return progress


def _histories(jobs) -> dict[int, list[ServiceRequest]]:
    """Each job's earlier requests on the same equipment, newest first, with their visits: {job id: requests}.

    One query for all the jobs' units: each unit's latest HISTORY_REQUESTS + 1 requests (a job drops itself from
    its own history, so one more covers it)."""
    units = {sr.equipment_id for sr in jobs if sr.equipment_id is not None}
    if not units:
        return {}
    rank = (
        sa.func.row_number()
        .over(
            partition_by=ServiceRequest.equipment_id,
            order_by=(ServiceRequest.created_at.desc(), ServiceRequest.id.desc()),
        )
        .label("rank")
    )
    ranked = sa.select(ServiceRequest.id, rank).where(ServiceRequest.equipment_id.in_(units)).subquery()
    rows = db.session.scalars(
        sa.select(ServiceRequest)
        .join(ranked, ranked.c.id == ServiceRequest.id)
        .where(ranked.c.rank <= HISTORY_REQUESTS + 1)
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        .options(selectinload(ServiceRequest.visits).selectinload(Visit.engineer))
    ).all()
    by_unit: dict[int, list[ServiceRequest]] = {}
    for row in rows:
        by_unit.setdefault(row.equipment_id, []).append(row)
    return {
        sr.id: [row for row in by_unit.get(sr.equipment_id, []) if row.id != sr.id][:HISTORY_REQUESTS]
        for sr in jobs
        if sr.equipment_id is not None
    }


def _knowledge_hints(sr: ServiceRequest, found: dict) -> list[dict]:
    """The knowledge entries that best match the problem: diagnosis hints the engineer can read offline. *found*
    keeps the hints of each problem already searched in this pull (jobs of one fault often read alike)."""
    key = (sr.description, sr.product_id, sr.service_category)
    if key not in found:
        hits = search(sr.description, product_id=sr.product_id, category=sr.service_category, limit=KNOWLEDGE_HINTS)
        found[key] = [hint(hit.entry) for hit in hits]
    return found[key]


def hint(entry) -> dict:
    """A knowledge entry as the phone reads it offline (KnowledgeHintSchema)."""
    return {
        "id": entry.id,
        "symptom": entry.symptom,
        "fault_code": entry.fault_code,
        "causes": [
            {
                "description": cause.description,
                "solutions": [{"summary": s.summary, "steps": list(s.steps or [])} for s in cause.solutions],
            }
            for cause in entry.causes
        ],
    }


def _problem_labels() -> dict[str, dict]:
    return {p.code: {"zh": p.name_zh, "en": p.name_en} for p in db.session.scalars(sa.select(ProblemType))}


class Beside:
    """An object as a schema dumps it: its own attributes, read through, and the values an operation adds beside
    them (a job's progress, an equipment's history)."""

    def __init__(self, obj, **values):
        self._obj = obj
        self.__dict__.update(values)

    def __getattr__(self, name: str):
        # Only for what was not added: the object's own columns and relations.
        return getattr(self._obj, name)


def job_views(jobs, user) -> list[Beside]:
    """The views of *jobs* (loaded with JOB_LOADS) with everything the engineer needs on site with no signal
    (dumped by JobSchema); what they share is read once for all: appointments, histories, problem names."""
    appointments = appointments_ops.current_appointments(sr.id for sr in jobs)
    histories = _histories(jobs)
    labels = _problem_labels()
    tokens = current_tokens(jobs)
    hints: dict = {}
    today = utcnow().date()
    views = []
    for sr in jobs:
        equipment = None
        if sr.equipment is not None:
            equipment = Beside(
                sr.equipment, under_warranty=sr.equipment.under_warranty(today), history=histories.get(sr.id, [])
            )
        views.append(
            Beside(
                sr,
                problem_type_label=labels.get(sr.problem_type, {"zh": sr.problem_type, "en": sr.problem_type}),
                equipment=equipment,
                progress=_progress(sr.events),
                knowledge=_knowledge_hints(sr, hints),
                allowed_actions=requests_ops.allowed_actions(sr, user),
                appointment=appointments_ops.as_dict(appointments.get(sr.id)),
                customer_url=customer_page_url(tokens[sr.id]),
            )
        )
    return views


def _reference(engineer) -> dict:
    """The van's stock (the parts the engineer can fit on site), the problem types' names (the claim pool shows
    other people's jobs, which carry only the code), the repair items of the engineer's skills, the visits a manager
    returned for correction, and the engineer's latest statements."""
    van = parts_stock.ensure_van(engineer)
    levels = db.session.scalars(parts_stock.stock_levels(warehouse_id=van.id, kinds=("van",))).all()
    problem_types = db.session.scalars(sa.select(ProblemType).order_by(ProblemType.sort_order, ProblemType.code))
    return {
        "problem_types": [{"code": p.code, "zh": p.name_zh, "en": p.name_en} for p in problem_types],
        "repair_items": [
            {
                "id": item.id,
                "category": item.category,
                "code": item.code,
                "name_zh": item.name_zh,
                "name_en": item.name_en,
                "standard_hours": str(item.standard_hours),
                "pricing": item.pricing,
            }
            for item in settlement_ops.catalog_for(engineer)
        ],
        # The usual items of each fault (knowledge entry): the visit form suggests them offline.
        "repair_item_suggestions": [
            {"fault_id": fault_id, "repair_item_ids": ids}
            for fault_id, ids in settlement_ops.suggested_items(categories=engineer.skill_categories or []).items()
        ],
        "returned_visits": settlement_ops.returned_visits(engineer.id),
        "statements": settlement_ops.recent_statements(engineer.id),
        "van_stock": [
            {
                "part_id": level.part_id,
                "part_number": level.part.part_number,
                "name": level.part.name,
                "qty": int(level.qty),
                "serial_tracked": level.part.serial_tracked,
            }
            for level in levels
        ],
    }


# ---------------------------------------------------------------- uploads in chunks that resume

CONTENT_RANGE = re.compile(r"^bytes (\d{1,9})-(\d{1,9})/(\d{1,9})$")
# A chunk small enough to get through a weak signal, big enough not to cost a round trip per few kilobytes.
MAX_CHUNK_BYTES = 1024 * 1024


def _upload_refused(field: str, message: str):
    return ValidationFailed("validation_failed", f"Some fields are not valid: {field}.", {field: message})


def _upload_answer(upload_id: str, offset: int, size: int, attachment: Attachment | None = None) -> dict:
    complete = attachment is not None
    return {"id": upload_id, "offset": offset, "size": size, "complete": complete, "attachment": attachment}


def upload_state(user, upload_id: str) -> dict:
    """How much of a chunked upload the server holds: the phone sends the rest from `offset`.

    Unknown ids answer offset 0; a finished one answers complete (so a phone that lost the last answer stops)."""
    done = db.session.get(Attachment, upload_id)
    if done is not None:
        engineer = engineer_for_user(user)
        _job_for({"type": "attach_photo", "request_id": done.request_id}, user, engineer)
        return _upload_answer(upload_id, done.size, done.size, done)
    upload = db.session.get(UploadInProgress, upload_id)
    if upload is None or upload.user_id != user.id:
        return _upload_answer(upload_id, 0, 0)
    return _upload_answer(upload_id, upload.offset, upload.size)


def upload_chunk(
    user, upload_id: str, request_id: int, kind: str, content_type: str, content_range: str | None, chunk: bytes
) -> dict:
    """Keep one chunk of a photo or signature (`Content-Range: bytes start-end/total`).

    A chunk must start where the received bytes end (else 409 `upload_offset` with the offset to go on from); the
    same chunk twice (an answer lost on the way back) is accepted once. The last chunk makes the attachment, checked
    as a one-piece upload is, under the phone's id."""
    engineer = engineer_for_user(user)
    sr = _job_for({"type": "attach_photo", "request_id": request_id}, user, engineer)
    content_type = (content_type or "").split(";")[0].strip().lower()
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", upload_id):
        raise _upload_refused("upload_id", "Letters, digits, - and _ only.")
    if not IMAGE_TYPE.match(content_type):
        raise _upload_refused("content_type", "A PNG, JPEG or WebP image.")
    match = CONTENT_RANGE.match((content_range or "").strip())
    if not match:
        raise _upload_refused("Content-Range", "Send the header Content-Range: bytes <first>-<last>/<total>.")
    start, end, total = (int(g) for g in match.groups())
    if end < start or end >= total or end - start + 1 != len(chunk):
        raise _upload_refused("Content-Range", "The range does not match the body's length.")
    if len(chunk) > MAX_CHUNK_BYTES:
        raise _upload_refused("body", f"At most {MAX_CHUNK_BYTES} bytes per chunk.")
    if total > MAX_UPLOAD_BYTES:
        raise _upload_refused("Content-Range", f"An image is at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")

    done = db.session.get(Attachment, upload_id)
    if done is not None:
        if done.request_id != sr.id:
            raise Conflict("duplicate_attachment", "This attachment id belongs to another request.")
        return _upload_answer(upload_id, done.size, done.size, done)

    upload = db.session.get(UploadInProgress, upload_id, with_for_update=True)
    if upload is None:
        upload = UploadInProgress(
            id=upload_id, user_id=user.id, request_id=sr.id, kind=kind, content_type=content_type, size=total, data=b""
        )
        try:
            with db.session.begin_nested():
                db.session.add(upload)
        except IntegrityError:
            # The same first chunk twice at once: the other one made the row; go on with it.
            upload = db.session.get(UploadInProgress, upload_id, with_for_update=True, populate_existing=True)
    if upload.user_id != user.id or upload.request_id != sr.id:
        raise Conflict("duplicate_attachment", "This attachment id belongs to another upload.")
    if upload.size != total or upload.kind != kind or upload.content_type != content_type:
        raise Conflict(
            "upload_changed",
            "This upload was started with another size or type: start it again under a new id.",
            {"offset": upload.offset},
        )
    offset = upload.offset
    if start < offset and end < offset:
        # A chunk the server already holds (its answer was lost): nothing to add.
        return _upload_answer(upload_id, offset, total)
    if start != offset:
        raise Conflict("upload_offset", f"The server holds {offset} bytes: send from there.", {"offset": offset})
    upload.data = (upload.data or b"") + chunk
    upload.updated_at = utcnow()
    db.session.flush()
    if upload.offset < total:
        return _upload_answer(upload_id, upload.offset, total)
    raw = upload.data
    db.session.delete(upload)
    db.session.flush()
    try:
        attachment = upload_attachment(user, upload_id, sr.id, kind, content_type, raw)
    except ValidationFailed:
        # Not an image after all: the bytes go, so that a new try starts from scratch (the caller commits).
        db.session.commit()
        raise
    return _upload_answer(upload_id, attachment.size, attachment.size, attachment)


STALE_UPLOAD_AGE = timedelta(days=14)


def forget_stale_uploads(now: datetime | None = None, older_than: timedelta = STALE_UPLOAD_AGE) -> int:
    """Drop chunked uploads no phone has continued for *older_than* (longer than a week: phones keep theirs 7 days
    and more offline, and resume them). The core sweep runs it; the caller commits."""
    now = now or utcnow()
    gone = db.session.execute(sa.delete(UploadInProgress).where(UploadInProgress.updated_at < now - older_than))
    return gone.rowcount
