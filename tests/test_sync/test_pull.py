"""GET /api/v1/sync?since=: the caller's jobs with all they need offline; only what changed; what to drop."""

from contextlib import contextmanager

import sqlalchemy as sa

from fieldservice.requests.models import ServiceRequest
from tests.test_sync.conftest import op


def pull(phone, since=None):
    response = phone.get("/api/v1/sync" + (f"?since={since}" if since else ""))
    assert response.status_code == 200, response.json
    return response.json


def test_full_pull_has_everything_for_offline(db, phone, job, make_job, make_engineer):
    make_job(make_engineer(skills=["water_purifier"]))  # someone else's
    make_job(None)  # in the pool, not the caller's job yet
    answer = pull(phone)
    assert [j["id"] for j in answer["jobs"]] == [job.id]
    assert answer["removed"] == []
    got = answer["jobs"][0]
    assert got["number"] == job.number and got["status"] == "assigned"
    assert got["customer"]["name"] and got["customer"]["address"] and got["customer"]["phone"]
    assert got["equipment"]["serial_number"]
    assert got["equipment"]["history"] == []
    assert got["problem_type_label"] == {"zh": "不出水", "en": "No water"}
    assert "arrive" in got["allowed_actions"]
    assert [e["action"] for e in got["timeline"]] == ["create", "assign"]
    assert got["progress"] == {"accepted_at": None, "departed_at": None, "arrived_at": None}
    assert isinstance(got["knowledge"], list)
    assert answer["reference"]["van_stock"] == []
    # The claim pool's jobs carry only the problem type's code: the phone keeps the names to show them.
    names = {p["code"]: (p["zh"], p["en"]) for p in answer["reference"]["problem_types"]}
    assert names[job.problem_type] == ("不出水", "No water")
    assert answer["cursor"]


def test_since_sends_only_changed_jobs(db, phone, job, make_job, engineer):
    other = make_job(engineer)
    cursor = pull(phone)["cursor"]
    # Nothing changed: the overlap window may resend both, but a cursor from the future proves the filter.
    from datetime import timedelta

    from fieldservice.core.models import utcnow
    from fieldservice.sync import operations as ops

    later = ops.make_cursor(utcnow() + timedelta(minutes=1), {job.id, other.id})
    assert pull(phone, later)["jobs"] == []
    # A change on one job (the engineer arrived) is what the next pull carries.
    mark = utcnow()
    phone.post("/api/v1/sync", json={"ops": [op("arrive", job.id)]})
    answer = pull(phone, ops.make_cursor(mark + ops.PULL_OVERLAP, {job.id, other.id}))
    assert [j["id"] for j in answer["jobs"]] == [job.id]
    assert answer["jobs"][0]["progress"]["arrived_at"]
    assert cursor != answer["cursor"]


def test_new_job_arrives_even_if_older_than_cursor(db, phone, job, make_job, engineer):
    from datetime import timedelta

    from fieldservice.core.models import utcnow
    from fieldservice.sync import operations as ops

    new = make_job(engineer)
    cursor = ops.make_cursor(utcnow() + timedelta(minutes=1), {job.id})
    assert [j["id"] for j in pull(phone, cursor)["jobs"]] == [new.id]


def test_reassigned_job_is_removed(db, phone, job, make_engineer, dispatcher, engineer):
    from fieldservice.requests import operations as ops

    cursor = pull(phone)["cursor"]
    sr = db.session.get(ServiceRequest, job.id)
    ops.perform(sr, "hand_back", engineer.user, None, reason="需要两人作业")
    db.session.commit()
    answer = pull(phone, cursor)
    assert answer["jobs"] == []
    assert answer["removed"] == [job.id]
    # The next cursor no longer holds it: it is not removed twice.
    assert pull(phone, answer["cursor"])["removed"] == []


def test_resolved_job_stays_with_its_visit(db, phone, job):
    from tests.test_sync.conftest import visit_payload

    phone.post("/api/v1/sync", json={"ops": [op("record_visit", job.id, visit_payload())]})
    got = pull(phone)["jobs"][0]
    assert got["status"] == "resolved"
    assert got["allowed_actions"] == []
    (visit,) = got["visits"]
    assert visit["outcome"] == "resolved" and visit["signature_id"] and len(visit["photo_ids"]) == 1
    assert visit["costs"][0]["kind"] == "travel"


def test_equipment_history_and_knowledge_hints(db, phone, engineer, make_job, dispatcher):
    from fieldservice.knowledge import operations as knowledge_ops
    from fieldservice.requests.models import ServiceRequest as SR

    first = make_job(engineer)
    phone.post(
        "/api/v1/sync",
        json={
            "ops": [
                op(
                    "record_visit",
                    first.id,
                    __import__("tests.test_sync.conftest", fromlist=["visit_payload"]).visit_payload(),
                )
            ]
        },
    )
    manager = __import__("fieldservice.auth.operations", fromlist=["create_user"]).create_user(
        "km1", "password123", "manager"
    )
    entry = knowledge_ops.create_entry(
        {
            "category": "water_purifier",
            "symptom": "净水器不出水",
            "fault_code": "E1",
            "causes": [
                {
                    "description": "进水电磁阀损坏",
                    "solutions": [{"summary": "更换进水电磁阀", "steps": ["断电", "更换"]}],
                }
            ],
        },
        manager,
    )
    knowledge_ops.change_status(entry, "publish", manager, entry.version)
    db.session.commit()
    second = make_job(
        engineer,
        equipment_id=db.session.get(SR, first.id).equipment_id,
        customer_id=db.session.get(SR, first.id).customer_id,
    )
    jobs = {j["id"]: j for j in pull(phone)["jobs"]}
    history = jobs[second.id]["equipment"]["history"]
    assert [h["number"] for h in history] == [first.number]
    assert history[0]["visits"][0]["solution"] == "更换进水电磁阀"
    hints = jobs[second.id]["knowledge"]
    assert hints and hints[0]["symptom"] == "净水器不出水"
    assert hints[0]["causes"][0]["solutions"][0]["steps"] == ["断电", "更换"]


def test_bad_cursor_is_422(phone):
    response = phone.get("/api/v1/sync?since=forged")
    assert response.status_code == 422
    assert "since" in response.json["error"]["fields"]


def test_pull_needs_an_engineer(api_as):
    assert api_as("manager").get("/api/v1/sync").status_code == 403


def test_job_fields_have_the_request_apis_types(db, phone, job, engineer, make_job):
    """The job's visits, timeline and equipment history are the request API's, field for field."""
    from fieldservice.requests.models import ServiceRequest as SR
    from tests.test_sync.conftest import visit_payload

    phone.post("/api/v1/sync", json={"ops": [op("record_visit", job.id, visit_payload())]})
    sr = db.session.get(SR, job.id)
    again = make_job(engineer, equipment_id=sr.equipment_id, customer_id=sr.customer_id)
    jobs = {j["id"]: j for j in pull(phone)["jobs"]}
    (visit,) = jobs[job.id]["visits"]
    (api_visit,) = phone.get(f"/api/v1/requests/{job.id}/visits").json
    assert visit == {key: api_visit[key] for key in visit}
    assert visit["labour_hours"] == 1.5 and visit["costs"][0]["amount"] == 30.0
    api_events = phone.get(f"/api/v1/requests/{job.id}/events").json
    assert jobs[job.id]["timeline"] == [
        {key: e[key] for key in got} for e, got in zip(api_events, jobs[job.id]["timeline"], strict=True)
    ]
    (earlier,) = jobs[again.id]["equipment"]["history"]
    assert earlier["visits"][0]["engineer"] == {"id": engineer.id, "name": "张师傅"}
    assert earlier["visits"][0]["solution"] == api_visit["solution"]


@contextmanager
def statements(engine):
    seen = []

    def record(_conn, _cursor, statement, *_):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_a_pull_without_the_reference_data_brings_the_jobs_only(db, phone, job):
    cursor = pull(phone)["cursor"]
    with statements(db.engine) as with_reference:
        full = phone.get(f"/api/v1/sync?since={cursor}").json
    with statements(db.engine) as without:
        lean = phone.get(f"/api/v1/sync?since={cursor}&reference=false").json
    assert set(full["reference"]) >= {"van_stock", "problem_types", "repair_items", "returned_visits", "statements"}
    assert "reference" not in lean and lean["jobs"] == full["jobs"] and lean["removed"] == full["removed"]
    assert len(without) < len(with_reference)
    bad = phone.get(f"/api/v1/sync?since={cursor}&reference=maybe")
    assert bad.status_code == 422 and bad.json["error"]["code"] == "validation_failed"
