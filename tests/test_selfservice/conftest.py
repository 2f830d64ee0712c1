import base64
import io

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


def last_code(db, phone: str) -> str:
    """The code the notification channel was given for *phone* (the log channel here)."""
    import re

    import sqlalchemy as sa

    from fieldservice.notifications.models import Notification

    row = db.session.scalar(
        sa.select(Notification)
        .where(Notification.event == "verification_code", Notification.recipient == phone)
        .order_by(Notification.id.desc())
    )
    return re.search(r"\d{6}", row.body).group(0)


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
            "code": code or last_code(db, phone),
            **fields,
        }
        return client.post(f"/e/{unit.token}/requests", json=data)

    return send
