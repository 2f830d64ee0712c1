"""Photos and signatures from the phone: the bytes decide (core.images), one bad photo refuses only its op."""

import base64
import io

import sqlalchemy as sa
from PIL import Image

from fieldservice.requests.models import Attachment, ServiceRequest, Visit
from tests.test_core.test_images import jpeg_with_gps, png_bomb
from tests.test_sync.conftest import op, visit_payload
from tests.test_sync.test_push import push


def data_url(raw: bytes, declared: str = "image/jpeg") -> str:
    return f"data:{declared};base64," + base64.b64encode(raw).decode()


def put(phone, job, attachment_id, raw, content_type="image/jpeg", kind="photo"):
    return phone.client.put(
        f"/api/v1/attachments/{attachment_id}?request_id={job.id}&kind={kind}",
        data=raw,
        headers={**phone.headers, "Content-Type": content_type},
    )


def stored(db, attachment_id) -> Attachment:
    db.session.expire_all()
    return db.session.get(Attachment, attachment_id)


def test_a_text_file_named_like_a_jpeg_is_refused_on_upload(db, phone, job):
    answer = put(phone, job, "fake-jpg", b"this is nameplate.jpg, honest\n")
    assert answer.status_code == 422
    assert answer.json["error"]["fields"] == {"body": "Not a JPEG or PNG or WebP image."}
    assert stored(db, "fake-jpg") is None


def test_a_png_bomb_is_refused_on_upload(db, phone, job):
    answer = put(phone, job, "bomb", png_bomb(20_000), content_type="image/png")
    assert answer.status_code == 422 and "million pixels" in answer.json["error"]["fields"]["body"]
    assert stored(db, "bomb") is None


def test_an_uploaded_photo_is_stored_without_its_gps(db, phone, job):
    answer = put(phone, job, "with-gps", jpeg_with_gps())
    assert answer.status_code == 200, answer.json
    attachment = stored(db, "with-gps")
    image = Image.open(io.BytesIO(attachment.data))
    assert attachment.content_type == "image/jpeg" and dict(image.getexif()) == {}
    assert b"Phone" not in attachment.data and attachment.size == len(attachment.data)


def test_a_jpeg_signature_is_refused(db, phone, job):
    buffer = io.BytesIO()
    Image.new("RGB", (300, 100), "white").save(buffer, format="JPEG")
    answer = put(phone, job, "sig-jpeg", buffer.getvalue(), kind="signature")
    assert answer.status_code == 422 and answer.json["error"]["fields"] == {"body": "Not a PNG image."}
    visit = phone.post(
        f"/api/v1/requests/{job.id}/visits",
        json=visit_payload(signature=data_url(buffer.getvalue(), "image/png")),
    )
    assert visit.status_code == 422 and visit.json["error"]["fields"] == {"signature": "Not a PNG image."}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0


def test_a_sync_batch_with_one_bad_photo_rejects_that_op_only(db, phone, job, make_job, engineer):
    other = make_job(engineer)
    bad = visit_payload(photos=[data_url(b"<svg onload=alert(1)>", "image/svg+xml")])
    answer = push(
        phone,
        [
            op("record_visit", job.id, bad),
            op("record_visit", other.id, visit_payload(photos=[data_url(jpeg_with_gps())])),
        ],
    )
    assert [r["status"] for r in answer["results"]] == ["rejected", "applied"]
    assert answer["results"][0]["error"]["fields"] == {"photos.0": "Not a JPEG or PNG or WebP image."}
    db.session.expire_all()
    assert db.session.get(ServiceRequest, job.id).status == "assigned"
    photo = db.session.scalars(sa.select(Attachment).where(Attachment.kind == "photo")).one()
    assert photo.request_id == other.id and photo.content_type == "image/jpeg"
    assert dict(Image.open(io.BytesIO(photo.data)).getexif()) == {}
