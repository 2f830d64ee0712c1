"""POST /api/v1/sync: ops applied in order, idempotent by op_id, refused one by one with their reason."""

import threading

import pytest
import sqlalchemy as sa

from fieldservice.requests.models import Attachment, RequestEvent, ServiceRequest, Visit
from fieldservice.sync.models import AppliedOp
from tests.test_sync.conftest import op, png_data_url, reassign, visit_payload


def events(db, request_id):
    return db.session.scalars(
        sa.select(RequestEvent.action).where(RequestEvent.request_id == request_id).order_by(RequestEvent.id)
    ).all()


def push(phone, ops, status=200):
    response = phone.post("/api/v1/sync", json={"ops": ops})
    assert response.status_code == status, response.json
    return response.json


def test_full_visit_is_applied_in_order(db, phone, job):
    ops = [
        op("accept", job.id),
        op("depart", job.id),
        op("arrive", job.id),
        op("record_visit", job.id, visit_payload()),
    ]
    answer = push(phone, ops)
    assert [r["status"] for r in answer["results"]] == ["applied"] * 4
    assert [r["op_id"] for r in answer["results"]] == [o["op_id"] for o in ops]
    db.session.expire_all()
    sr = db.session.get(ServiceRequest, job.id)
    assert sr.status == "resolved"
    assert events(db, job.id)[-4:] == ["accept", "depart", "arrive", "visit"]
    visit = db.session.scalar(sa.select(Visit).where(Visit.request_id == job.id))
    assert visit.client_op_id == ops[-1]["op_id"]
    assert visit.signature_id is not None
    assert len(visit.photos) == 1
    assert [c.kind for c in visit.costs] == ["travel"]
    assert answer["results"][-1]["result"]["visit_id"] == visit.id


def test_replayed_batch_answers_duplicate_and_changes_nothing(db, phone, job):
    ops = [
        op("arrive", job.id),
        op("record_visit", job.id, visit_payload()),
        op("note", job.id, {"note": "客户满意"}),
    ]
    push(phone, ops)
    db.session.expire_all()
    before = (db.session.get(ServiceRequest, job.id).version, len(events(db, job.id)))
    again = push(phone, ops)
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 3
    assert [r["original_status"] for r in again["results"]] == ["applied"] * 3
    db.session.expire_all()
    assert (db.session.get(ServiceRequest, job.id).version, len(events(db, job.id))) == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AppliedOp)) == 3


def test_duplicate_within_one_batch(db, phone, job):
    same = op("note", job.id, {"note": "已到场"})
    answer = push(phone, [same, dict(same)])
    assert [r["status"] for r in answer["results"]] == ["applied", "duplicate"]
    assert events(db, job.id).count("note") == 1


def test_reassigned_job_is_rejected_with_reason_and_other_jobs_go_on(
    db, phone, job, make_job, engineer, make_engineer, dispatcher
):
    other_job = make_job(engineer)
    reassign(db, job, engineer, dispatcher, make_engineer(skills=["water_purifier"], name="李师傅"))

    batch = [op("arrive", job.id), op("record_visit", job.id, visit_payload()), op("arrive", other_job.id)]
    answer = push(phone, batch)
    first, second, third = answer["results"]
    assert first["status"] == "rejected" and first["error"]["code"] == "job_reassigned"
    assert first["error"]["advice"]
    assert second["status"] == "rejected" and second["error"]["code"] == "depends_on_rejected"
    assert second["error"]["depends_on"] == batch[0]["op_id"]
    assert third["status"] == "applied"
    db.session.expire_all()
    assert db.session.get(ServiceRequest, job.id).visit_count == 0
    assert "arrive" in events(db, other_job.id)
    # A replay of a rejected op is a duplicate that still says what became of it.
    again = push(phone, batch[:1])["results"][0]
    assert again == {**first, "status": "duplicate", "original_status": "rejected"}


def test_a_job_never_assigned_to_the_caller_is_not_found(phone, make_job, make_engineer):
    stranger_job = make_job(make_engineer(skills=["water_purifier"]))
    result = push(phone, [op("arrive", stranger_job.id)])["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "not_found"
    result = push(phone, [op("arrive", 999999)])["results"][0]
    assert result["error"]["code"] == "not_found"


def test_stale_version_is_rejected(db, phone, job):
    stale = job.version
    push(phone, [op("arrive", job.id)])
    result = push(phone, [op("record_visit", job.id, visit_payload(version=stale))])["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "stale_version"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0


def test_illegal_transition_is_rejected(db, phone, job):
    push(phone, [op("record_visit", job.id, visit_payload())])
    result = push(phone, [op("arrive", job.id)])["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "illegal_transition"


@pytest.mark.parametrize(
    ("bad_op", "field"),
    [
        # Payload changes are applied at run time: a visit built at collection time would start before the job.
        ({"type": "teleport"}, "type"),
        ({"request_id": "seven"}, "request_id"),
        ({"payload": {"labour_hours": -1}}, "labour_hours"),
        ({"payload": {"outcome": "maybe"}}, "outcome"),
        ({"payload": {"signature": "data:text/plain;base64,aGk="}}, "signature"),
        ({"payload": {"costs": [{"kind": "", "amount": 5}]}}, "costs.0.kind"),
        # Values marshmallow would coerce (1.5 to 1) are refused in a payload as in any JSON body.
        ({"payload": {"parts": [{"part_id": 1.5, "qty": 1}]}}, "parts.0.part_id"),
    ],
)
def test_invalid_op_is_rejected_with_fields_and_does_not_block_the_next(
    db, phone, job, make_job, engineer, bad_op, field
):
    other = make_job(engineer)
    changes = dict(bad_op)
    payload = visit_payload(**changes.pop("payload", {}))
    bad = {**op("record_visit", job.id, payload), **changes}
    answer = push(phone, [bad, op("arrive", other.id)])
    first, second = answer["results"]
    assert first["status"] == "rejected"
    assert first["error"]["code"] == "validation_failed"
    assert field in first["error"]["fields"]
    assert second["status"] == "applied"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0


def test_independent_ops_after_a_rejected_one_still_apply(db, phone, job, make_job, engineer):
    second_job = make_job(engineer)
    answer = push(
        phone,
        [
            op("record_visit", job.id, visit_payload(outcome="maybe")),
            op("record_visit", second_job.id, visit_payload()),
            op("note", job.id, {"note": "依赖前一个"}),
        ],
    )
    assert [r["status"] for r in answer["results"]] == ["rejected", "applied", "rejected"]
    assert answer["results"][2]["error"]["code"] == "depends_on_rejected"
    db.session.expire_all()
    assert db.session.get(ServiceRequest, second_job.id).status == "resolved"


def test_unsolved_visit_then_hand_back_order_matters(db, phone, job):
    answer = push(phone, [op("record_visit", job.id, visit_payload(outcome="unresolved")), op("arrive", job.id)])
    # The visit released the job (rule 4): the arrive after it comes too late.
    assert [r["status"] for r in answer["results"]] == ["applied", "rejected"]
    db.session.expire_all()
    assert db.session.get(ServiceRequest, job.id).status == "awaiting_assignment"


def test_attach_photo_through_idempotent_upload(db, phone, job):
    import base64

    raw = base64.b64decode(png_data_url().split(",", 1)[1])
    url = f"/api/v1/attachments/photo-1?request_id={job.id}&kind=photo"
    for _ in range(2):
        response = phone.client.put(url, data=raw, headers={**phone.headers, "Content-Type": "image/png"})
        assert response.status_code == 200, response.json
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 1
    answer = push(
        phone,
        [
            op("attach_photo", job.id, {"attachment_id": "photo-1", "caption": "铭牌"}),
            op("attach_photo", job.id, {"attachment_id": "never-uploaded"}),
        ],
    )
    assert [r["status"] for r in answer["results"]] == ["applied", "rejected"]
    assert answer["results"][1]["error"]["code"] == "attachment_missing"
    bad = phone.client.put(
        url.replace("photo-1", "p2"), data=b"text", headers={**phone.headers, "Content-Type": "text/plain"}
    )
    assert bad.status_code == 422 and "content_type" in bad.json["error"]["fields"]


def test_urge_and_claim(db, phone, make_job, job):
    pool_job = make_job(None)
    answer = push(phone, [op("claim", pool_job.id), op("urge", job.id, {"note": "客户催单"})])
    assert [r["status"] for r in answer["results"]] == ["applied", "applied"]
    db.session.expire_all()
    assert db.session.get(ServiceRequest, pool_job.id).status == "assigned"
    assert db.session.get(ServiceRequest, job.id).urged


def test_claim_of_a_job_someone_took_first_is_refused_with_advice(db, phone, make_job, make_engineer):
    colleague = make_engineer(skills=["water_purifier"], name="李师傅")
    taken = make_job(colleague)
    answer = push(phone, [op("claim", taken.id)])
    (result,) = answer["results"]
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "taken" and taken.number in result["error"]["message"]
    assert "pool" in result["error"]["advice"]
    db.session.expire_all()
    assert db.session.get(ServiceRequest, taken.id).engineer_id == colleague.id


def test_offline_steps_need_no_version_but_a_stale_one_is_refused(db, phone, job):
    stale = op("accept", job.id, {"version": job.version + 5})
    fresh = op("accept", job.id, {"version": job.version})
    answer = push(phone, [stale])
    assert answer["results"][0]["error"]["code"] == "stale_version"
    # The refusal holds the job's later ops in the same batch; a new batch with the right version applies.
    answer = push(phone, [fresh, op("depart", job.id), op("arrive", job.id)])
    assert [r["status"] for r in answer["results"]] == ["applied"] * 3


def test_bearer_token_only(client, console_as, engineer, job):
    session_client = console_as(user=engineer.user)
    response = session_client.post("/api/v1/sync", json={"ops": []})
    assert response.status_code == 401
    assert response.json["error"]["code"] in ("bearer_required", "not_logged_in")
    assert client.get("/api/v1/sync").status_code == 401


def test_other_roles_are_forbidden(api_as):
    assert api_as("dispatcher").post("/api/v1/sync", json={"ops": []}).status_code == 403


def test_malformed_batches(phone):
    assert phone.post("/api/v1/sync", json={"ops": [{"op_id": "not-a-uuid"}]}).status_code == 422
    assert phone.post("/api/v1/sync", json={}).status_code == 422
    response = phone.client.post(
        "/api/v1/sync", data="{", headers={**phone.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_op_id_of_another_user_is_refused(api_as, make_engineer, phone, job):
    mine = op("arrive", job.id)
    push(phone, [mine])
    other = api_as(user=make_engineer(skills=["water_purifier"]).user)
    result = push(other, [mine])["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "op_id_taken"


def test_renew_token(phone):
    response = phone.post("/api/v1/auth/renew")
    assert response.status_code == 200
    assert response.json["token"] and response.json["expires_at"]
    assert (
        phone.client.get("/api/v1/sync", headers={"Authorization": "Bearer " + response.json["token"]}).status_code
        == 200
    )


@pytest.mark.postgres
def test_two_copies_of_a_batch_at_once_apply_once(app, app_config, db, job, engineer):
    """Two phones' worth of the same batch racing: the op_id primary key lets only one change anything."""
    from fieldservice import create_app
    from fieldservice.auth.operations import issue_token

    token = issue_token(engineer.user)
    db.session.commit()
    batch = [op("arrive", job.id), op("record_visit", job.id, visit_payload())]
    other_app = create_app(app_config)
    answers = []

    def send():
        with other_app.test_client() as c:
            answers.append(c.post("/api/v1/sync", json={"ops": batch}, headers={"Authorization": f"Bearer {token}"}))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with other_app.app_context():
        db.session.remove()
        db.engine.dispose()
    assert [a.status_code for a in answers] == [200, 200]
    statuses = sorted(r["status"] for a in answers for r in a.json["results"])
    assert statuses == ["applied", "applied", "duplicate", "duplicate"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 1


def test_a_batch_that_collides_at_its_last_write_is_applied_again_op_by_op(db, phone, job, monkeypatch):
    """Another batch applied one of these ops after this one asked which were applied (the race the row locks
    leave open for an op without a job): writing the records collides, and the batch is undone and applied
    again op by op, answering duplicate for the other's op and applying the rest once."""
    from fieldservice.core.models import utcnow
    from fieldservice.sync import operations as sync_ops

    ops = [op("accept", job.id), op("note", job.id, {"note": "到了"})]
    db.session.add(
        AppliedOp(
            op_id=ops[1]["op_id"],
            user_id=job.engineer.user_id,
            request_id=job.id,
            type="note",
            status="applied",
            applied_at=utcnow(),
        )
    )
    db.session.commit()
    real = sync_ops._applied_ops
    calls = []

    def blind_first_try(op_ids):
        # The first try asks twice (before and after locking the jobs) and misses the other batch's op.
        calls.append(op_ids)
        return {} if len(calls) <= 2 else real(op_ids)

    monkeypatch.setattr(sync_ops, "_applied_ops", blind_first_try)
    answer = push(phone, ops)
    assert len(calls) == 4  # undone and applied again
    assert [r["status"] for r in answer["results"]] == ["applied", "duplicate"]
    db.session.expire_all()
    assert events(db, job.id).count("accept") == 1
    assert events(db, job.id).count("note") == 0
    assert db.session.get(AppliedOp, ops[0]["op_id"]).status == "applied"


def test_an_unstorable_op_is_rejected_and_the_batch_goes_on(db, phone, make_job, engineer):
    """Text with a NUL character in one op (PostgreSQL cannot store it) refuses that op only, with its reason."""
    first, second = make_job(engineer), make_job(engineer)
    ops = [
        op("accept", first.id),
        op("depart", first.id),
        op("arrive", first.id),
        op("record_visit", first.id, visit_payload(fault="不出水\x00")),
        op("accept", second.id),
    ]
    answer = push(phone, ops)
    assert [r["status"] for r in answer["results"]] == ["applied", "applied", "applied", "rejected", "applied"]
    assert answer["results"][3]["error"]["code"] == "validation_failed"
    assert "payload.fault" in answer["results"][3]["error"]["fields"]
    db.session.expire_all()
    assert db.session.get(ServiceRequest, first.id).status == "assigned"
    assert db.session.scalar(sa.select(Visit).where(Visit.request_id == first.id)) is None
