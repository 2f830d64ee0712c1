"""Merge by field under random interleavings: the dispatcher edits in the console while the engineer's phone queues
edits offline and syncs now and then, resolving each conflict by keeping its value or taking theirs.

The property (issue 26): no accepted field value is ever lost. Every accepted write of a field is replaced only
by a write whose author had seen it (a console write passes the version check; a phone write was based on a
version at or after it) or by the same author's next write; and each field ends holding its last accepted value.
"""

import uuid

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldservice.core.errors import Conflict
from fieldservice.core.models import utcnow
from fieldservice.requests import operations as requests_ops
from fieldservice.requests.models import RequestFieldChange, ServiceRequest
from fieldservice.sync.operations import apply_batch

FIELDS = ("contact_name", "contact_phone", "site_address", "engineer_note")
values = st.sampled_from(["甲", "乙", "丙", "丁", None])
changes = st.dictionaries(st.sampled_from(FIELDS), values, min_size=1, max_size=3)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("console_read")),
        st.tuples(st.just("console_edit"), changes),
        st.tuples(st.just("phone_edit"), changes),
        st.tuples(st.just("phone_sync"), st.booleans()),
    ),
    min_size=1,
    max_size=20,
)


def _fresh(db, job_id: int) -> ServiceRequest:
    db.session.expire_all()
    return db.session.get(ServiceRequest, job_id)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_no_accepted_field_value_is_ever_lost(db, make_job, engineer, dispatcher, steps):
    job_id = make_job(engineer).id
    sr = _fresh(db, job_id)
    console_version = sr.version
    phone_base = sr.version
    queue: list[dict] = []
    # The base version of each accepted write, by the request version it made.
    bases: dict[int, int] = {}
    for step in steps:
        if step[0] == "console_read":
            console_version = _fresh(db, job_id).version
        elif step[0] == "console_edit":
            sr = _fresh(db, job_id)
            try:
                sr = requests_ops.edit_details(sr, dict(step[1]), dispatcher, console_version)
            except Conflict:
                db.session.rollback()
                continue
            db.session.commit()
            bases[sr.version] = console_version
            console_version = sr.version
        elif step[0] == "phone_edit":
            queue.append(
                {
                    "op_id": str(uuid.uuid4()),
                    "type": "edit",
                    "request_id": job_id,
                    "payload": {"base_version": phone_base, "changes": dict(step[1])},
                    "client_time": utcnow().isoformat(),
                }
            )
        else:
            keep_mine = step[1]
            sent, queue = queue, []
            results = apply_batch(engineer.user, sent)
            for raw, result in zip(sent, results, strict=True):
                if result["status"] == "applied":
                    bases[result["result"]["version"]] = raw["payload"]["base_version"]
                    continue
                assert result["error"]["code"] == "conflict", result
                conflict = result["error"]["fields"]
                for field, detail in conflict.items():
                    assert detail["mine"] == raw["payload"]["changes"][field]
                    assert detail["by"] == dispatcher.display_name
                if keep_mine:
                    # Keep mine: the same changes again, based on the version the conflict named.
                    version = next(iter(conflict.values()))["version"]
                    queue.append(
                        {**raw, "op_id": str(uuid.uuid4()), "payload": {**raw["payload"], "base_version": version}}
                    )
            # The pull after the push: the phone now holds the current version.
            phone_base = _fresh(db, job_id).version
            for raw in queue:
                raw["payload"]["base_version"] = min(raw["payload"]["base_version"], phone_base)

    db.session.expire_all()
    writes = db.session.scalars(
        sa.select(RequestFieldChange)
        .where(RequestFieldChange.request_id == job_id)
        .order_by(RequestFieldChange.version, RequestFieldChange.id)
    ).all()
    sr = _fresh(db, job_id)
    for field in FIELDS:
        history = [w for w in writes if w.field == field]
        for before, after in zip(history, history[1:], strict=False):
            seen = bases[after.version] >= before.version
            assert seen or after.actor_id == before.actor_id, (field, before, after, bases)
        if history:
            assert getattr(sr, field) == history[-1].value, field
