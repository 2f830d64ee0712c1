"""Photos sent in chunks that resume (PUT /api/v1/uploads/<id> with Content-Range): the server answers the offset it
holds, a lost answer's chunk twice is taken once, a gap is refused with the offset, the last chunk makes the photo."""

import io
from datetime import timedelta

import sqlalchemy as sa
from PIL import Image

from fieldservice.core.models import utcnow
from fieldservice.requests.models import Attachment
from fieldservice.sync.models import UploadInProgress


def photo_bytes() -> bytes:
    image = Image.effect_noise((400, 300), 60).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def put_chunk(phone, job, upload_id, raw, start, end, total=None, content_type="image/jpeg", content_range=None):
    total = len(raw) if total is None else total
    headers = {**phone.headers, "Content-Type": content_type}
    headers["Content-Range"] = content_range or f"bytes {start}-{end - 1}/{total}"
    return phone.client.put(
        f"/api/v1/uploads/{upload_id}?request_id={job.id}&kind=photo", data=raw[start:end], headers=headers
    )


def offset_of(phone, upload_id):
    answer = phone.client.get(f"/api/v1/uploads/{upload_id}", headers=phone.headers)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_a_photo_in_three_chunks_becomes_one_attachment(db, phone, job):
    raw = photo_bytes()
    third = len(raw) // 3
    assert offset_of(phone, "p1") == {"id": "p1", "offset": 0, "size": 0, "complete": False, "attachment": None}
    first = put_chunk(phone, job, "p1", raw, 0, third)
    assert first.status_code == 200, first.json
    assert first.json["offset"] == third and first.json["complete"] is False
    assert offset_of(phone, "p1")["offset"] == third
    assert put_chunk(phone, job, "p1", raw, third, 2 * third).json["offset"] == 2 * third
    last = put_chunk(phone, job, "p1", raw, 2 * third, len(raw))
    assert last.status_code == 200 and last.json["complete"] is True
    db.session.expire_all()
    photo = db.session.get(Attachment, "p1")
    assert photo.request_id == job.id and photo.kind == "photo" and last.json["attachment"]["id"] == "p1"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UploadInProgress)) == 0
    # A phone that lost the last answer asks again: complete, nothing made twice.
    assert offset_of(phone, "p1")["complete"] is True
    again = put_chunk(phone, job, "p1", raw, 2 * third, len(raw))
    assert again.status_code == 200 and again.json["complete"] is True
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 1


def test_a_chunk_sent_twice_is_kept_once_and_a_gap_is_refused_with_the_offset(db, phone, job):
    raw = photo_bytes()
    half = len(raw) // 2
    assert put_chunk(phone, job, "p2", raw, 0, 1000).status_code == 200
    # The answer was lost; the phone sends the same chunk again: nothing added.
    repeat = put_chunk(phone, job, "p2", raw, 0, 1000)
    assert repeat.status_code == 200 and repeat.json["offset"] == 1000
    gap = put_chunk(phone, job, "p2", raw, 2000, half)
    assert gap.status_code == 409
    assert gap.json["error"]["code"] == "upload_offset" and gap.json["error"]["fields"] == {"offset": 1000}
    put_chunk(phone, job, "p2", raw, 1000, half)
    done = put_chunk(phone, job, "p2", raw, half, len(raw))
    assert done.json["complete"] is True
    db.session.expire_all()
    assert db.session.get(Attachment, "p2").size > 0


def test_bad_ranges_and_types_are_refused_and_store_nothing(db, phone, job):
    raw = photo_bytes()
    cases = [
        ({"content_range": "bytes=0-99"}, "Content-Range"),
        ({"content_range": "bytes 0-99/50"}, "Content-Range"),
        ({"content_range": "bytes 0-10/" + str(len(raw))}, "Content-Range"),  # body longer than the range
        ({"content_type": "text/plain"}, "content_type"),
        ({"total": 6 * 1024 * 1024}, "Content-Range"),
    ]
    for kwargs, field in cases:
        answer = put_chunk(phone, job, "p3", raw, 0, 100, **kwargs)
        assert answer.status_code == 422, (kwargs, answer.json)
        assert field in answer.json["error"]["fields"], (kwargs, answer.json)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UploadInProgress)) == 0


def test_bytes_that_are_not_an_image_are_refused_at_the_end_and_forgotten(db, phone, job):
    raw = b"not an image at all " * 100
    assert put_chunk(phone, job, "p4", raw, 0, 1000).status_code == 200
    answer = put_chunk(phone, job, "p4", raw, 1000, len(raw))
    assert answer.status_code == 422 and "body" in answer.json["error"]["fields"]
    db.session.expire_all()
    assert db.session.get(Attachment, "p4") is None
    # Forgotten: a new try starts from 0.
    assert offset_of(phone, "p4")["offset"] == 0


def test_another_engineers_job_is_refused(db, api_as, make_engineer, job):
    other = api_as(user=make_engineer(skills=["water_purifier"], name="李师傅").user)
    raw = photo_bytes()
    answer = put_chunk(other, job, "p5", raw, 0, 1000)
    assert answer.status_code in (403, 404, 409), answer.json
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UploadInProgress)) == 0


def test_the_token_is_required(db, phone, job):
    raw = photo_bytes()
    answer = phone.client.put(
        f"/api/v1/uploads/p6?request_id={job.id}&kind=photo",
        data=raw[:100],
        headers={"Content-Type": "image/jpeg", "Content-Range": f"bytes 0-99/{len(raw)}"},
    )
    assert answer.status_code == 401


def test_stale_uploads_go_after_two_weeks_not_after_one(db, phone, job):
    from fieldservice.sync.operations import forget_stale_uploads

    raw = photo_bytes()
    put_chunk(phone, job, "week", raw, 0, 1000)
    put_chunk(phone, job, "fortnight", raw, 0, 1000)
    db.session.get(UploadInProgress, "week").updated_at = utcnow() - timedelta(days=8)
    db.session.get(UploadInProgress, "fortnight").updated_at = utcnow() - timedelta(days=15)
    db.session.commit()
    assert forget_stale_uploads() == 1
    db.session.commit()
    assert [u.id for u in db.session.scalars(sa.select(UploadInProgress))] == ["week"]


def test_the_sweep_forgets_stale_uploads(db, phone, job):
    from fieldservice.core.sweep import run_sweep

    raw = photo_bytes()
    put_chunk(phone, job, "old", raw, 0, 1000)
    db.session.get(UploadInProgress, "old").updated_at = utcnow() - timedelta(days=15)
    db.session.commit()
    assert run_sweep()["sync_uploads"] == 1
    db.session.commit()
    assert db.session.get(UploadInProgress, "old") is None
