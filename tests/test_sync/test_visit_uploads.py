"""A visit op naming its photos and signature by id (uploaded beforehand in chunks, PUT /api/v1/uploads/<id>): the
visit links them, the same rows a data-URL visit makes; an id not uploaded for this request by this engineer, or
already on a visit, refuses the op and nothing is written; a replay changes nothing; data-URL ops still work."""

import base64

import pytest
import sqlalchemy as sa

from fieldservice.reports.operations import build_content
from fieldservice.requests import operations as requests_ops
from fieldservice.requests.models import Attachment, ServiceRequest, Visit
from fieldservice.sync.models import AppliedOp
from tests.test_sync.conftest import op, png_data_url, visit_payload
from tests.test_sync.test_push import push
from tests.test_sync.test_uploads_chunked import photo_bytes


def signature_bytes() -> bytes:
    return base64.b64decode(png_data_url().split(",", 1)[1])


def upload(phone, request_id: int, upload_id: str, raw: bytes, kind: str = "photo", content_type: str = "image/jpeg"):
    """Send *raw* in two chunks, as the phone does; the answer of the last one."""
    half = len(raw) // 2
    for start, end in ((0, half), (half, len(raw))):
        answer = phone.client.put(
            f"/api/v1/uploads/{upload_id}?request_id={request_id}&kind={kind}",
            data=raw[start:end],
            headers={
                **phone.headers,
                "Content-Type": content_type,
                "Content-Range": f"bytes {start}-{end - 1}/{len(raw)}",
            },
        )
        assert answer.status_code == 200, answer.json
    assert answer.json["complete"] is True
    return answer.json


def upload_visit_images(phone, request_id: int, photos=("ph-1",), signature="sig-1"):
    for photo_id in photos:
        upload(phone, request_id, photo_id, photo_bytes())
    if signature:
        upload(phone, request_id, signature, signature_bytes(), kind="signature", content_type="image/png")


def uploaded_visit(photo_ids=("ph-1",), signature_id="sig-1", **kw) -> dict:
    payload = visit_payload(photos=None, signature=None, photo_ids=list(photo_ids), signature_id=signature_id, **kw)
    return {k: v for k, v in payload.items() if v is not None}


def nothing_written(db, job, ids=("ph-1", "sig-1")):
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0
    assert db.session.get(ServiceRequest, job.id).status == "assigned"
    assert all(a.visit_id is None for a in db.session.scalars(sa.select(Attachment).where(Attachment.id.in_(ids))))


def test_a_visit_links_its_uploaded_photos_and_signature(db, phone, job):
    upload_visit_images(phone, job.id, photos=("ph-1", "ph-2"))
    visit_op = op("record_visit", job.id, uploaded_visit(photo_ids=("ph-1", "ph-2")))
    result = push(phone, [visit_op])["results"][0]
    assert result["status"] == "applied", result
    db.session.expire_all()
    visit = db.session.get(Visit, result["result"]["visit_id"])
    assert visit.request.status == "resolved" and visit.client_op_id == visit_op["op_id"]
    assert visit.signature_id == "sig-1"
    assert visit.signature.kind == "signature" and visit.signature.content_type == "image/png"
    assert visit.signature.visit_id == visit.id
    assert [p.id for p in visit.photos] == ["ph-1", "ph-2"]
    assert all(p.visit_id == visit.id and p.kind == "photo" for p in visit.photos)
    # Linked, not copied: the request holds the three uploads and nothing more.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 3
    # The phone's copy of the job shows them as it shows a data-URL visit's.
    (pulled,) = phone.get("/api/v1/sync").json["jobs"][0]["visits"]
    assert pulled["signature_id"] == "sig-1" and pulled["photo_ids"] == ["ph-1", "ph-2"]


def test_the_report_shows_an_uploaded_visit_as_it_shows_a_data_url_one(db, phone, job, make_job, engineer):
    """The same photo and signature, sent both ways: the same attachment rows, the same report content."""
    other = make_job(engineer)
    signature = png_data_url()
    photo = "data:image/jpeg;base64," + base64.b64encode(photo_bytes()).decode()
    upload(phone, job.id, "ph-1", base64.b64decode(photo.split(",", 1)[1]))
    upload(phone, job.id, "sig-1", base64.b64decode(signature.split(",", 1)[1]), "signature", "image/png")
    answers = push(
        phone,
        [
            op("record_visit", job.id, uploaded_visit()),
            op("record_visit", other.id, visit_payload(photos=[photo], signature=signature)),
        ],
    )["results"]
    assert [r["status"] for r in answers] == ["applied", "applied"], answers
    db.session.expire_all()
    by_ids, by_urls = (db.session.get(Visit, r["result"]["visit_id"]) for r in answers)

    def rows(visit):
        return [
            (a.kind, a.content_type, a.sha256, a.visit_id == visit.id, a.uploaded_by_id)
            for a in [visit.signature, *visit.photos]
        ]

    assert rows(by_ids) == rows(by_urls)
    content_ids, content_urls = build_content(by_ids), build_content(by_urls)
    assert content_ids["signature"] == content_urls["signature"] and content_ids["signature"].startswith("data:")
    assert content_ids["visit"]["photo_count"] == content_urls["visit"]["photo_count"] == 1


def test_a_replay_is_a_duplicate_and_changes_nothing(db, phone, job):
    upload_visit_images(phone, job.id)
    visit_op = op("record_visit", job.id, uploaded_visit())
    first = push(phone, [visit_op])["results"][0]
    assert first["status"] == "applied"
    db.session.expire_all()
    version = db.session.get(ServiceRequest, job.id).version
    again = push(phone, [visit_op])["results"][0]
    assert again["status"] == "duplicate" and again["original_status"] == "applied"
    assert again["result"] == first["result"]
    db.session.expire_all()
    assert db.session.get(ServiceRequest, job.id).version == version
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 2


def test_an_id_never_uploaded_refuses_the_op_and_writes_nothing(db, phone, job, make_job, engineer):
    upload_visit_images(phone, job.id)
    other = make_job(engineer)
    answer = push(
        phone, [op("record_visit", job.id, uploaded_visit(photo_ids=("ph-1", "never"))), op("arrive", other.id)]
    )
    refused, after = answer["results"]
    assert refused["status"] == "rejected"
    assert refused["error"]["code"] == "attachment_missing" and refused["error"]["advice"]
    assert list(refused["error"]["fields"]) == ["photo_ids.1"]
    assert after["status"] == "applied"
    nothing_written(db, job)
    # Once the photo is there, the same visit sent again (a new op id) goes through.
    upload(phone, job.id, "never", photo_bytes())
    result = push(phone, [op("record_visit", job.id, uploaded_visit(photo_ids=("ph-1", "never")))])["results"][0]
    assert result["status"] == "applied", result


def test_an_upload_not_finished_is_missing(db, phone, job):
    upload_visit_images(phone, job.id, photos=())
    raw = photo_bytes()
    phone.client.put(
        f"/api/v1/uploads/half?request_id={job.id}&kind=photo",
        data=raw[:1000],
        headers={**phone.headers, "Content-Type": "image/jpeg", "Content-Range": f"bytes 0-999/{len(raw)}"},
    )
    result = push(phone, [op("record_visit", job.id, uploaded_visit(photo_ids=("half",)))])["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "attachment_missing"
    nothing_written(db, job)


def test_another_requests_attachment_is_refused(db, phone, job, make_job, engineer):
    other = make_job(engineer)
    upload_visit_images(phone, other.id)
    result = push(phone, [op("record_visit", job.id, uploaded_visit())])["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "attachment_missing"
    assert set(result["error"]["fields"]) == {"photo_ids.0", "signature_id"}
    nothing_written(db, job)


def test_another_users_attachment_is_refused(db, phone, job, dispatcher):
    upload_visit_images(phone, job.id, photos=())
    sr = db.session.get(ServiceRequest, job.id)
    requests_ops.add_attachment(sr, "photo", "image/jpeg", photo_bytes(), dispatcher, attachment_id="ph-1")
    db.session.commit()
    result = push(phone, [op("record_visit", job.id, uploaded_visit())])["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "attachment_missing"
    assert list(result["error"]["fields"]) == ["photo_ids.0"]
    nothing_written(db, job)


def test_a_photo_named_as_the_signature_is_refused(db, phone, job):
    upload_visit_images(phone, job.id, photos=("ph-1", "ph-2"))
    result = push(phone, [op("record_visit", job.id, uploaded_visit(signature_id="ph-2"))])["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "validation_failed"
    assert list(result["error"]["fields"]) == ["signature_id"]
    nothing_written(db, job, ids=("ph-1", "ph-2", "sig-1"))


def test_an_attachment_already_on_another_visit_is_refused(db, phone, job, dispatcher, engineer):
    upload_visit_images(phone, job.id)
    first = push(phone, [op("record_visit", job.id, uploaded_visit(outcome="unresolved"))])["results"][0]
    assert first["status"] == "applied"
    db.session.expire_all()
    sr = db.session.get(ServiceRequest, job.id)
    requests_ops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id)
    db.session.commit()
    upload(phone, job.id, "ph-2", photo_bytes())
    for payload in (uploaded_visit(photo_ids=("ph-2", "ph-1"), signature_id=None), uploaded_visit(photo_ids=())):
        result = push(phone, [op("record_visit", job.id, payload)])["results"][0]
        assert result["status"] == "rejected" and result["error"]["code"] == "attachment_in_use", result
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 1
    assert db.session.get(Attachment, "ph-2").visit_id is None
    assert db.session.get(Attachment, "ph-1").visit_id == first["result"]["visit_id"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"photos": [png_data_url(320, 240)]}, "photo_ids"),
        ({"signature": png_data_url()}, "signature_id"),
        ({"photo_ids": ["ph-1", "ph-1"]}, "photo_ids"),
        ({"photo_ids": [f"ph-{i}" for i in range(21)]}, "photo_ids"),
        ({"photo_ids": [""]}, "photo_ids.0"),
        ({"signature_id": 7}, "signature_id"),
    ],
)
def test_a_malformed_reference_is_refused(db, phone, job, changes, field):
    upload_visit_images(phone, job.id)
    payload = {**uploaded_visit(), **changes}
    result = push(phone, [op("record_visit", job.id, payload)])["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "validation_failed"
    assert field in result["error"]["fields"], result
    nothing_written(db, job)


def test_an_op_queued_by_the_previous_app_with_data_urls_still_applies(db, phone, job):
    result = push(phone, [op("record_visit", job.id, visit_payload())])["results"][0]
    assert result["status"] == "applied"
    db.session.expire_all()
    visit = db.session.get(Visit, result["result"]["visit_id"])
    assert visit.signature.kind == "signature" and visit.signature.visit_id == visit.id
    assert len(visit.photos) == 1 and visit.photos[0].visit_id == visit.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AppliedOp)) == 1


def test_the_rest_visit_still_takes_data_urls_and_not_ids(db, api_as, engineer, job):
    rest = api_as(user=engineer.user)
    upload_visit_images(rest, job.id)
    by_ids = rest.post(f"/api/v1/requests/{job.id}/visits", json=uploaded_visit())
    assert by_ids.status_code == 422 and {"photo_ids", "signature_id"} <= set(by_ids.json["error"]["fields"])
    answer = rest.post(f"/api/v1/requests/{job.id}/visits", json=visit_payload())
    assert answer.status_code == 201, answer.json
    db.session.expire_all()
    (visit,) = db.session.scalars(sa.select(Visit)).all()
    assert visit.signature_id and len(visit.photos) == 1
