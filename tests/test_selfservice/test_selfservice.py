"""The unit's label, its public page, a fault reported from it, and the one-time code's rules."""

import base64
import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.models import utcnow
from fieldservice.requests.models import Attachment, RequestEvent, ServiceRequest
from fieldservice.selfservice import operations as ops
from fieldservice.selfservice.models import EquipmentLabel, PhoneCode

from .conftest import last_code, photo_data_url


def test_issuing_a_label_answers_its_links_and_revokes_the_old_one(api_as, client, db, unit):
    api = api_as("dispatcher")
    answer = api.post(f"/api/v1/equipment/{unit.id}/label")
    assert answer.status_code == 200
    url = answer.json["url"]
    assert url.startswith("http://fs.test/e/") and answer.json["qr_url"] == url + "/qr.png"
    new_token = url.rsplit("/", 1)[1]
    assert new_token != unit.token
    assert client.get(f"/e/{unit.token}").status_code == 404
    assert client.get(f"/e/{new_token}").status_code == 200
    assert client.get(f"/e/{new_token}/qr.png").mimetype == "image/png"
    # Only hashes are stored.
    hashes = set(db.session.scalars(sa.select(EquipmentLabel.token_hash)))
    assert new_token not in hashes and hashlib.sha256(new_token.encode()).hexdigest() in hashes


@pytest.mark.parametrize("role, status", [("engineer", 403), ("callback", 403), ("manager", 200), ("admin", 200)])
def test_who_issues_labels(api_as, unit, role, status):
    assert api_as(role).post(f"/api/v1/equipment/{unit.id}/label").status_code == status


def test_label_for_an_unknown_unit_is_404(api_as, db):
    assert api_as("dispatcher").post("/api/v1/equipment/999999/label").json["error"]["code"] == "not_found"


def test_a_wrong_or_revoked_token_is_a_plain_404(client, db, unit):
    assert client.get(f"/e/{unit.token[:-1]}x").status_code == 404
    assert client.get("/e/" + "a" * 200).status_code == 404
    ops.revoke_labels(unit)
    db.session.commit()
    for path in ("", "/qr.png"):
        assert client.get(f"/e/{unit.token}{path}").status_code == 404
    assert client.post(f"/e/{unit.token}/code", json={"phone": "13912345678"}).status_code == 404


def test_the_token_is_not_derivable_from_the_serial(app, client, db, unit):
    serial = unit.serial_number
    guesses = [
        serial,
        base64.urlsafe_b64encode(serial.encode()).decode().rstrip("="),
        hashlib.sha256(serial.encode()).hexdigest(),
        base64.urlsafe_b64encode(hashlib.sha256(serial.encode()).digest()[:24]).decode().rstrip("="),
        str(unit.id),
    ]
    for guess in guesses:
        assert client.get(f"/e/{guess}").status_code == 404
    assert serial not in unit.token and len(base64.urlsafe_b64decode(unit.token + "==")) * 8 >= 128
    # The token depends on the site's secret: another secret, another token for the same unit and serial.
    app.config["SECRET_KEY"] = "another-secret"
    assert ops.derive_token(unit.id, 1) != unit.token


def test_the_page_shows_the_unit_and_nothing_else_about_the_customer(client, db, unit):
    html = client.get(f"/e/{unit.token}?lang=en").get_data(as_text=True)
    assert unit.serial_number in html and unit.product.name in html
    assert "In warranty until 2099-01-01." in html
    customer = unit.customer
    assert customer.name not in html and customer.address not in html and customer.phone not in html
    assert customer.phone[:3] + "****" + customer.phone[-4:] in html
    assert "No open request for this unit." in html
    answer = client.get(f"/e/{unit.token}")
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert "保修期至2099-01-01。" in answer.get_data(as_text=True)


def test_not_covered_in_plain_words(client, db, make_equipment, problem_types):
    equipment = make_equipment()
    token = ops.label_token(equipment)
    db.session.commit()
    html = client.get(f"/e/{token}?lang=en").get_data(as_text=True)
    assert "Not covered by a warranty or agreement: repairs are charged." in html


def test_a_report_logs_a_qr_request_through_intake(client, db, unit, report):
    answer = report(unit, photos=[photo_data_url()])
    assert answer.status_code == 201, answer.json
    sr = db.session.scalar(sa.select(ServiceRequest).where(ServiceRequest.number == answer.json["number"]))
    assert sr.channel == "qr" and sr.status == "awaiting_assignment"
    assert sr.equipment_id == unit.id and sr.customer_id == unit.customer_id
    assert sr.contact_name == "王女士" and sr.contact_phone == "13912345678"
    assert sr.coverage == "warranty" and sr.response_due is not None
    assert answer.json["url"].startswith("http://fs.test/r/")
    assert client.get(answer.json["url"].replace("http://fs.test", "")).status_code == 200
    photos = db.session.scalars(sa.select(Attachment).where(Attachment.request_id == sr.id)).all()
    assert [p.content_type for p in photos] == ["image/jpeg"]
    create = db.session.scalar(sa.select(RequestEvent).where(RequestEvent.request_id == sr.id))
    assert create.actor_label == "customer"
    # The page now shows it among the open requests.
    html = client.get(f"/e/{unit.token}").get_data(as_text=True)
    assert sr.number in html


def test_a_duplicate_report_adds_a_note_to_the_open_request(client, db, unit, report):
    first = report(unit)
    assert first.status_code == 201
    second = report(unit, phone="13800001111", description="又漏了，声音很大", photos=[photo_data_url("blue")])
    assert second.status_code == 200, second.json
    assert second.json["number"] == first.json["number"] and second.json["created"] is False
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRequest)) == 1
    sr = db.session.scalar(sa.select(ServiceRequest))
    note = db.session.scalar(
        sa.select(RequestEvent).where(RequestEvent.request_id == sr.id, RequestEvent.action == "customer_note")
    )
    assert "又漏了" in note.note and "138****1111" in note.note and note.actor_label == "customer"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 1


def test_a_wrong_code_changes_nothing_and_five_tries_use_it_up(client, db, unit):
    assert client.post(f"/e/{unit.token}/code", json={"phone": "13912345678"}).status_code == 202
    code = last_code("13912345678")
    wrong = "000000" if code != "000000" else "111111"
    data = {"problem_type": "leak", "description": "漏水", "contact_name": "王", "phone": "13912345678"}
    for _ in range(4):
        answer = client.post(f"/e/{unit.token}/requests", json={**data, "code": wrong})
        assert answer.status_code == 422 and answer.json["error"]["code"] == "wrong_code"
    answer = client.post(f"/e/{unit.token}/requests", json={**data, "code": wrong})
    assert answer.status_code == 429
    # Used up: even the right code no longer works.
    assert client.post(f"/e/{unit.token}/requests", json={**data, "code": code}).status_code in (422, 429)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRequest)) == 0


def test_a_code_expires_after_ten_minutes_and_works_once(client, db, unit, report):
    assert client.post(f"/e/{unit.token}/code", json={"phone": "13912345678"}).status_code == 202
    code = last_code("13912345678")
    row = db.session.scalar(sa.select(PhoneCode))
    assert row.expires_at - row.created_at == timedelta(minutes=10) and code not in row.code_hash
    # The sent message keeps no working code.
    from fieldservice.notifications.models import Notification

    sent = db.session.scalar(sa.select(Notification).where(Notification.event == "verification_code"))
    assert sent.status == "sent" and code not in sent.body + sent.subject and "******" in sent.body
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    data = {"problem_type": "leak", "description": "漏水", "contact_name": "王", "phone": "13912345678", "code": code}
    answer = client.post(f"/e/{unit.token}/requests", json=data)
    assert answer.status_code == 422 and answer.json["error"]["code"] == "code_expired"
    assert client.post(f"/e/{unit.token}/code", json={"phone": "13912345678"}).status_code == 202
    data["code"] = last_code("13912345678")
    assert client.post(f"/e/{unit.token}/requests", json=data).status_code == 201
    # Once: the same code again is refused.
    assert client.post(f"/e/{unit.token}/requests", json=data).status_code == 422


@pytest.mark.parametrize(
    "fields, bad",
    [
        ({"problem_type": "nope"}, "problem_type"),
        ({"description": ""}, "description"),
        ({"contact_name": ""}, "contact_name"),
        ({"phone": "abc"}, "phone"),
        ({"photos": ["data:image/png;base64,AAAA"]}, "photos"),
        ({"photos": "x"}, "photos"),
        ({"preferred_start": "tomorrow"}, "preferred_start"),
        (
            {"preferred_start": "2099-01-02T10:00:00+08:00", "preferred_end": "2099-01-02T09:00:00+08:00"},
            "preferred_end",
        ),
        ({"symptom_id": "12345"}, "symptom_id"),
    ],
)
def test_bad_fields_are_named_and_keep_the_code(client, db, unit, fields, bad):
    assert client.post(f"/e/{unit.token}/code", json={"phone": "13912345678"}).status_code == 202
    code = last_code("13912345678")
    data = {"problem_type": "leak", "description": "漏水", "contact_name": "王", "phone": "13912345678", "code": code}
    answer = client.post(f"/e/{unit.token}/requests", json={**data, **fields})
    assert answer.status_code == 422 and bad in answer.json["error"]["fields"]
    # The code was not spent on a refused form.
    assert client.post(f"/e/{unit.token}/requests", json=data).status_code == 201


def test_more_than_three_photos_are_refused(client, db, unit, report):
    answer = report(unit, photos=[photo_data_url()] * 4)
    assert answer.status_code == 422 and "photos" in answer.json["error"]["fields"]


def test_malformed_json_is_a_400(client, unit):
    answer = client.post(f"/e/{unit.token}/requests", data="[1", content_type="application/json")
    assert answer.status_code == 400


def test_symptoms_of_the_product_come_from_the_knowledge_base(client, db, unit, report):
    from fieldservice.knowledge.models import KnowledgeEntry

    entry = KnowledgeEntry(
        product_id=unit.product_id, category=unit.product.category, symptom="出水很慢", status="published"
    )
    db.session.add(entry)
    db.session.commit()
    assert "出水很慢" in client.get(f"/e/{unit.token}").get_data(as_text=True)
    answer = report(unit, description="", symptom_id=str(entry.id))
    assert answer.status_code == 201, answer.json
    assert db.session.scalar(sa.select(ServiceRequest.description)).startswith("出水很慢")


def test_follow_my_request_opens_it_with_the_phone_code(client, db, unit, report):
    created = report(unit)
    client.post(f"/e/{unit.token}/code", json={"phone": "+86 139 1234 5678"})
    answer = client.post(
        f"/e/{unit.token}/follow", json={"phone": "+86 139 1234 5678", "code": last_code("13912345678")}
    )
    assert answer.status_code == 200 and answer.json["url"] == created.json["url"]
    client.post(f"/e/{unit.token}/code", json={"phone": "13700000000"})
    answer = client.post(f"/e/{unit.token}/follow", json={"phone": "13700000000", "code": last_code("13700000000")})
    assert answer.status_code == 404


def test_urge_from_the_page(client, db, unit, report):
    report(unit)
    sr = db.session.scalar(sa.select(ServiceRequest))
    answer = client.post(f"/e/{unit.token}/urge", data={"request_id": str(sr.id)})
    assert answer.status_code == 302
    db.session.refresh(sr)
    assert sr.urged and sr.urge_count == 1
    # Another unit's request is not urged from this page.
    assert client.post(f"/e/{unit.token}/urge", json={"request_id": sr.id + 1}).status_code == 404


def test_the_code_limit_per_phone_answers_429_with_a_clear_message(client, db, unit):
    for _ in range(3):
        assert client.post(f"/e/{unit.token}/code", json={"phone": "13912345678"}).status_code == 202
    answer = client.post(f"/e/{unit.token}/code?lang=en", json={"phone": "13912345678"})
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert "Too many attempts" in answer.json["error"]["message"]
    zh = client.post(f"/e/{unit.token}/code?lang=zh_Hans", json={"phone": "13912345678"})
    assert zh.status_code == 429 and zh.json["error"]["message"] == "尝试次数过多，请稍后再试，或拨打服务热线。"
    # Another phone from the same label still gets its code.
    assert client.post(f"/e/{unit.token}/code", json={"phone": "13800000000"}).status_code == 202


def test_the_dispatch_list_marks_self_service_requests(console_as, db, unit, report):
    number = report(unit).json["number"]
    dispatcher = console_as("dispatcher")
    html = dispatcher.get("/requests?lang=en").get_data(as_text=True)
    row = html[html.index(number) :]
    assert "Self-service" in row[: row.index("</tr>")]
    board = dispatcher.get("/dispatch?lang=en").get_data(as_text=True)
    row = board[board.index(number) :]
    assert "Self-service" in row[: row.index("</tr>")]


@pytest.mark.postgres
def test_two_reports_at_once_make_one_request(app, app_config, db, unit, client):
    """Two web processes take the same unit's report at the same moment: one request, the other a note."""
    import threading

    from fieldservice import create_app

    phones = ["13911110001", "13911110002"]
    for phone in phones:
        assert client.post(f"/e/{unit.token}/code", json={"phone": phone}).status_code == 202
    codes = {phone: last_code(phone) for phone in phones}
    db.session.commit()
    apps = [create_app(app_config) for _ in phones]
    answers, barrier = [], threading.Barrier(2)

    def send(other, phone):
        data = {"problem_type": "leak", "description": "漏水", "contact_name": "王", "phone": phone}
        barrier.wait()
        answers.append(other.test_client().post(f"/e/{unit.token}/requests", json={**data, "code": codes[phone]}))

    threads = [threading.Thread(target=send, args=pair) for pair in zip(apps, phones, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(a.status_code for a in answers) == [200, 201]
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRequest)) == 1
    for other in apps:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
