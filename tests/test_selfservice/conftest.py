import base64
import io
import logging
import re

import pytest
from PIL import Image

from fieldservice.selfservice import operations as ops


def photo_data_url(color="red", size=(800, 600)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def problem_types(db):
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
    db.session.add(ProblemType(code="noise", name_zh="异响", name_en="Noise", category="repair"))
    db.session.commit()


@pytest.fixture
def unit(db, make_equipment, problem_types):
    """A unit with a label; .token is its label's token."""
    from datetime import date

    equipment = make_equipment(warranty_until=date(2099, 1, 1))
    equipment.token = ops.label_token(equipment)
    db.session.commit()
    return equipment


# What the log channel sent (the development channel: it writes each message's subject, the code in it). The stored
# message has its code masked once sent, as nobody reading the outbox should find a working code.
SENT: list[str] = []


class _Capture(logging.Handler):
    def emit(self, record):
        SENT.append(record.getMessage())


@pytest.fixture(autouse=True)
def sent_messages():
    handler = _Capture(level=logging.INFO)
    logger = logging.getLogger("fieldservice.notifications")
    level = logger.level
    logger.setLevel(logging.INFO)  # the log channel writes at INFO; the test run's root logger may be quieter
    logger.addHandler(handler)
    SENT.clear()
    yield SENT
    logger.removeHandler(handler)
    logger.setLevel(level)


def last_code(phone: str) -> str:
    """The code the notification channel was given for *phone*."""
    for message in reversed(SENT):
        match = re.search(rf" to {phone}: .*?(\d{{6}})", message)
        if match:
            return match.group(1)
    raise AssertionError(f"no code was sent to {phone}: {SENT}")


@pytest.fixture
def report(client, db):
    """report(unit, phone=..., **fields) -> the answer of a code sent and a report made with it."""

    def send(unit, phone="13912345678", code=None, **fields):
        answer = client.post(f"/e/{unit.token}/code", json={"phone": phone})
        assert answer.status_code == 202, answer.json
        data = {
            "problem_type": "leak",
            "description": "机器底部漏水",
            "contact_name": "王女士",
            "phone": phone,
            "code": code or last_code(phone),
            **fields,
        }
        return client.post(f"/e/{unit.token}/requests", json=data)

    return send
