"""The customer's link: only its hash at rest, derived again to be shown, revocable, expiring, renewable by phone."""

import hashlib
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.models import utcnow
from fieldservice.notifications.models import Notification
from fieldservice.reports import operations as ops
from fieldservice.reports.models import CustomerLink
from fieldservice.requests.models import RequestEvent

FRESH = "/r/{}/fresh-link"


def _issued(db, sr) -> str:
    token = ops.current_token(sr)
    db.session.commit()
    return token


def _close_long_ago(db, sr, days: int):
    """The request closed *days* ago, and its links were issued before that."""
    closed = utcnow() - timedelta(days=days)
    db.session.execute(sa.update(CustomerLink).values(created_at=closed - timedelta(days=1)))
    sr.closed_at = closed
    db.session.commit()


def _fresh_link_messages(db) -> list[Notification]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Notification).where(Notification.event == "fresh_link")).all()


def test_the_database_holds_only_the_hash(app, db, client, resolved_request):
    token = _issued(db, resolved_request)
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("customer_links")}
    assert columns == {"id", "request_id", "serial", "token_hash", "created_at", "revoked_at"}
    link = db.session.scalars(sa.select(CustomerLink)).one()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() and link.serial == 1
    assert len(token) >= 22  # >= 128 bits, URL-safe
    # The link opens the page by its hash, and is the same whenever it is shown again.
    assert client.get(f"/r/{token}").status_code == 200
    assert ops.current_token(resolved_request) == token
    # No table keeps the token in clear: not the links, not the outbox's messages (the resolved message's link
    # is put in when it is sent).
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            text_columns = [c for c in table.columns if isinstance(c.type, sa.String | sa.Text | sa.JSON)]
            for column in text_columns:
                values = conn.execute(sa.select(sa.cast(column, sa.Text))).scalars()
                assert not any(token in (value or "") for value in values), f"{table.name}.{column.name}"


def test_the_stored_report_pdf_carries_no_link(db, resolved_request, tmp_path):
    """The PDF is kept in the database: a QR code of the link in it would be the token at rest, and stale once
    revoked. Its only image is the customer's signature."""
    import io

    from pypdf import PdfReader

    from fieldservice.reports.models import ServiceReport

    token = _issued(db, resolved_request)
    report = db.session.scalars(sa.select(ServiceReport)).one()
    pages = PdfReader(io.BytesIO(report.pdf)).pages
    assert sum(len(page.images) for page in pages) == 1
    assert not any(token in page.extract_text() or "/r/" in page.extract_text() for page in pages)


def test_the_resolved_message_carries_the_link_only_when_sent(db, resolved_request):
    from fieldservice.notifications import messages
    from fieldservice.notifications.operations import _outgoing

    message = db.session.scalars(sa.select(Notification).where(Notification.event == "resolved")).one()
    assert messages.CUSTOMER_LINK in message.body
    sent = _outgoing(message)
    assert ops.urls_for(resolved_request)["url"] in sent.body and sent.recipient == message.recipient


def test_a_revoked_link_is_a_404_and_the_new_one_works(db, client, api_as, resolved_request):
    token = _issued(db, resolved_request)
    assert api_as("engineer").post(f"/api/v1/requests/{resolved_request.id}/customer-link/revoke").status_code == 403
    answer = api_as("dispatcher").post(f"/api/v1/requests/{resolved_request.id}/customer-link/revoke")
    assert answer.status_code == 200, answer.json
    new_token = answer.json["url"].rsplit("/r/", 1)[1]
    assert new_token != token and answer.json["expires_at"] is None  # open (not closed): no expiry yet
    for suffix in (".pdf", "/qr.png"):
        assert client.get(f"/r/{token}{suffix}").status_code == 404
        assert client.get(f"/r/{new_token}{suffix}").status_code == 200
    assert client.post(f"/r/{token}/rating", json={"score": 5}).status_code == 404
    assert client.post(f"/r/{token}/urge", json={}).status_code == 404
    # The page of the old link says it was replaced and offers a new one; nothing of the request shows.
    page = client.get(f"/r/{token}", headers={"Accept-Language": "en"})
    assert page.status_code == 410 and "replaced by a newer one" in page.get_data(as_text=True)
    assert resolved_request.number not in page.get_data(as_text=True)
    assert client.get(f"/r/{new_token}").status_code == 200
    event = db.session.scalars(sa.select(RequestEvent).where(RequestEvent.action == "customer_link_revoked")).one()
    assert event.actor_label and event.data == {"revoked": 1}


def test_the_console_shows_the_link_and_revokes_it(db, console_as, client, resolved_request):
    dispatcher = console_as("dispatcher")
    detail = dispatcher.get(f"/requests/{resolved_request.id}").get_data(as_text=True)
    assert f"/requests/{resolved_request.id}/customer-link" in detail
    page = dispatcher.get(f"/requests/{resolved_request.id}/customer-link").get_data(as_text=True)
    token = ops.current_token(resolved_request)
    assert f"http://fs.test/r/{token}" in page and "revoke-customer-link" in page
    assert console_as("engineer").post(f"/requests/{resolved_request.id}/customer-link/revoke").status_code == 403
    done = dispatcher.post(f"/requests/{resolved_request.id}/customer-link/revoke")
    assert done.status_code == 302
    assert client.get(f"/r/{token}.pdf").status_code == 404


def test_a_link_expires_days_after_the_request_closed(app, db, client, resolved_request):
    token = _issued(db, resolved_request)
    days = app.config["FIELDSERVICE_PUBLIC_LINK_DAYS"]
    _close_long_ago(db, resolved_request, days - 1)
    assert client.get(f"/r/{token}").status_code == 200
    _close_long_ago(db, resolved_request, days + 1)
    page = client.get(f"/r/{token}", headers={"Accept-Language": "zh-CN"})
    html = page.get_data(as_text=True)
    assert page.status_code == 410 and "此链接已失效" in html and 'name="phone"' in html
    assert page.headers["Cache-Control"] == "private, no-store"
    for suffix in (".pdf", "/qr.png"):
        assert client.get(f"/r/{token}{suffix}").status_code == 404
    # Staff showing the link again get a fresh one, valid for another period.
    new_token = _issued(db, resolved_request)
    assert new_token != token and client.get(f"/r/{new_token}").status_code == 200


@pytest.mark.parametrize("typed", ["13800000001", "+86 138-0000-0001"])
def test_a_fresh_link_goes_to_a_number_on_record(db, client, make_customer, resolved_request, typed):
    resolved_request.customer.phone = "138 0000 0001"
    db.session.commit()
    token = _issued(db, resolved_request)
    _close_long_ago(db, resolved_request, 400)
    answer = client.post(FRESH.format(token), data={"phone": typed}, headers={"Accept-Language": "en"})
    assert answer.status_code == 200 and "a new link is on its way" in answer.get_data(as_text=True)
    [message] = _fresh_link_messages(db)
    assert message.recipient == "138 0000 0001" and message.request_id == resolved_request.id
    # The old link is revoked; the one the message will carry works.
    new_token = ops.current_token(resolved_request)
    assert client.get(f"/r/{token}").status_code == 410
    assert client.get(f"/r/{new_token}").status_code == 200
    assert new_token not in message.body


def test_asking_with_a_revoked_link_sends_the_current_one_and_revokes_nothing(db, client, resolved_request):
    old = _issued(db, resolved_request)
    ops.revoke_customer_link(resolved_request, resolved_request.created_by)
    db.session.commit()
    current = ops.current_token(resolved_request)
    for _ in range(2):  # the first message went astray: asking again sends another
        answer = client.post(FRESH.format(old), data={"phone": resolved_request.customer.phone})
        assert answer.status_code == 200
    assert len(_fresh_link_messages(db)) == 2
    assert ops.current_token(resolved_request) == current and client.get(f"/r/{current}").status_code == 200
    event = db.session.scalars(sa.select(RequestEvent).where(RequestEvent.action == "customer_link_sent")).first()
    assert event.actor_label == "customer" and event.data == {"serial": 2}


def test_a_number_not_on_record_sends_nothing_and_answers_the_same(db, client, resolved_request):
    token = _issued(db, resolved_request)
    _close_long_ago(db, resolved_request, 400)
    wrong = client.post(FRESH.format(token), data={"phone": "13999999999"})
    assert _fresh_link_messages(db) == []
    right = client.post(FRESH.format(token), data={"phone": resolved_request.customer.phone})
    assert len(_fresh_link_messages(db)) == 1
    assert (wrong.status_code, wrong.get_data()) == (right.status_code, right.get_data())
    valid = client.post(FRESH.format(_issued(db, resolved_request)), json={"phone": "13999999999"})
    assert valid.status_code == 302 and len(_fresh_link_messages(db)) == 1  # a valid link has nothing to ask


def test_fresh_links_are_rate_limited_per_request_without_telling(db, client, resolved_request):
    token = _issued(db, resolved_request)
    _close_long_ago(db, resolved_request, 400)
    phone = resolved_request.customer.phone
    answers = []
    for _ in range(4):
        answers.append(client.post(FRESH.format(token), json={"phone": phone}))
        token = ops.current_token(resolved_request)  # each message revokes the one before
        _close_long_ago(db, resolved_request, 400)
    assert {a.status_code for a in answers} == {202}
    assert len({a.get_data() for a in answers}) == 1
    assert len(_fresh_link_messages(db)) == 3  # the fourth in a day sends nothing, and says so to nobody


def test_a_link_from_before_derivation_stays_valid(db, client, resolved_request):
    """A migrated row: serial 0, the hash of a random token the app cannot show again."""
    legacy = "legacy-random-token-0123456789abcdef"
    db.session.add(
        CustomerLink(request_id=resolved_request.id, serial=0, token_hash=hashlib.sha256(legacy.encode()).hexdigest())
    )
    db.session.commit()
    assert client.get(f"/r/{legacy}").status_code == 200
    shown = _issued(db, resolved_request)
    assert shown != legacy and client.get(f"/r/{shown}").status_code == 200
    assert client.get(f"/r/{legacy}").status_code == 200  # showing a new one does not break the printed one
    ops.revoke_customer_link(resolved_request, resolved_request.created_by)
    db.session.commit()
    assert client.get(f"/r/{legacy}.pdf").status_code == 404


def test_a_new_secret_key_keeps_old_links_working_and_shows_a_new_one(app, db, client, resolved_request):
    token = _issued(db, resolved_request)
    app.config["SECRET_KEY"] = "rotated-secret"
    shown = _issued(db, resolved_request)
    assert shown != token
    assert client.get(f"/r/{token}").status_code == 200 and client.get(f"/r/{shown}").status_code == 200


# ---------------------------------------------------------------- the logs


def test_the_request_log_masks_the_token(db, live_server, caplog, resolved_request):
    import urllib.error
    import urllib.request

    token = _issued(db, resolved_request)
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        with urllib.request.urlopen(f"{live_server.url}/r/{token}") as answer:
            assert answer.status == 200
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{live_server.url}/r/{token}x.pdf")
        lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any(f"GET /r/{token[:4]}… " in line for line in lines), lines
    assert any(f"GET /r/{token[:4]}….pdf " in line and "404" in line for line in lines), lines
    assert not any(token in line for line in lines)
    assert token not in caplog.text


def test_gunicorn_access_lines_and_our_own_lines_are_masked(app, caplog):
    from gunicorn.glogging import SafeAtoms

    from fieldservice.core.logmask import install_log_masking

    token = "Zq3vX9_secret-token-value-abcdefgh"
    with caplog.at_level(logging.INFO):
        install_log_masking()  # the root logger's handlers now include this test's capture
        atoms = SafeAtoms({"r": f"GET /r/{token}/qr.png HTTP/1.1", "U": f"/e/{token}", "s": "200", "{referer}i": "-"})
        logging.getLogger("gunicorn.access").info('"%(r)s" %(s)s %(U)s %({Referer}i)s', atoms)
        logging.getLogger("fieldservice.reports").info("opened http://fs.test/r/%s.pdf", token)
        logging.getLogger("fieldservice.reports").info(f"opened /r/{token} directly")
    assert token not in caplog.text
    assert '"GET /r/Zq3v…/qr.png HTTP/1.1" 200 /e/Zq3v… -' in caplog.text
    assert "opened http://fs.test/r/Zq3v….pdf" in caplog.text and "opened /r/Zq3v… directly" in caplog.text


def test_gunicorn_with_its_config_file_masks_the_token(app, database_url, tmp_path):
    """The production server as the README runs it (gunicorn, ./gunicorn.conf.py): its access log."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "Zq3vX9_secret-token-value-abcdefgh"
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "gunicorn-test", "REDIS_URL": ""}
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "fieldservice:create_app()"],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/r/{token}/qr.png", timeout=2)
                except urllib.error.HTTPError as answer:
                    assert answer.code == 404
                    break
                except OSError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.3)
        finally:
            server.terminate()
            server.wait(10)
    text = log.read_text()
    assert '"GET /r/Zq3v…/qr.png HTTP/1.1" 404' in text, text
    assert token not in text
