"""Settlement fixtures: a repair-item catalog for water purifiers, an engineer with a stocked van, and resolved
visits recorded through the request loop (never inserted)."""

from decimal import Decimal

import pytest

from fieldservice.settlement.operations import create_repair_item
from tests.test_parts.conftest import (  # noqa: F401 - fixtures shared with the parts tests
    assigned_request,
    central,
    engineer,
    make_part,
    manager,
    part,
    receive,
    stock_van,
    supplier,
    van,
    visit_body,
)
from tests.test_sync.conftest import png_data_url


@pytest.fixture
def make_item(db, manager):  # noqa: F811
    counter = iter(range(1, 10_000))

    def make(**kw):
        n = next(counter)
        data = {
            "category": "water_purifier",
            "code": f"WP-{n:02d}",
            "name_zh": f"更换滤芯{n}",
            "name_en": f"Replace filter {n}",
            "standard_hours": "1.00",
            "pricing": "hourly",
            **kw,
        }
        item = create_repair_item(data, manager)
        db.session.commit()
        return item

    return make


@pytest.fixture
def resolved_visit(db, api_as, engineer, assigned_request):  # noqa: F811
    """resolved_visit(items=[(item, qty)], hours="1.0", signed=True, parts=[]) -> the visit, through the API."""

    def make(items=(), hours="1.0", signed=True, parts=()):
        from fieldservice.requests.models import Visit

        body = visit_body(list(parts), labour_hours=hours)
        body["items"] = [{"repair_item_id": item.id, "quantity": qty} for item, qty in items]
        if signed:
            body["signature"] = png_data_url()
        response = api_as(user=engineer.user).post(f"/api/v1/requests/{assigned_request.id}/visits", json=body)
        assert response.status_code == 201, response.json
        return db.session.get(Visit, response.json["id"])

    return make


D = Decimal
