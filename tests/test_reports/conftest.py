import base64
import io
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw

from fieldservice.core.models import utcnow


def signature_data_url() -> str:
    image = Image.new("RGB", (300, 100), "white")
    ImageDraw.Draw(image).line([(10, 80), (80, 20), (150, 70), (290, 15)], fill="black", width=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def dispatcher(make_user):
    return make_user("dispatcher")


@pytest.fixture
def open_request(db, make_equipment, make_engineer, dispatcher):
    """A request assigned to an engineer, not yet visited."""
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
    equipment = make_equipment()
    engineer = make_engineer(skills=[equipment.product.category], name="张师傅")
    sr = ops.create_request(
        {
            "customer_id": equipment.customer_id, "equipment_id": equipment.id, "problem_type": "leak",
            "description": "机器底部漏水", "priority": 2, "required_by": utcnow() + timedelta(days=1),
        },
        dispatcher,
    )
    db.session.commit()
    ops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id)
    db.session.commit()
    sr.test_engineer = engineer
    return sr


@pytest.fixture
def resolved_request(db, open_request):
    """The open request after a resolved visit with a signature; the report job has run inline."""
    from fieldservice.core.jobs import dispatch_committed_jobs
    from fieldservice.requests import operations as ops

    engineer_user = open_request.test_engineer.user
    now = utcnow()
    ops.record_visit(
        open_request,
        {
            "outcome": "resolved", "arrived_at": now - timedelta(minutes=5), "finished_at": now,
            "labour_hours": 1.5, "cause": "进水阀密封圈老化", "solution": "更换进水阀密封圈并做泄漏测试",
            "costs": [{"kind": "travel", "amount": 30}], "signature": signature_data_url(),
        },
        engineer_user,
    )
    db.session.commit()
    dispatch_committed_jobs()
    return open_request
