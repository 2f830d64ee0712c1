"""Fixtures of the request loop: problem types, a request factory, and the people who act on requests."""

from datetime import timedelta

import pytest

from fieldservice.core.models import utcnow


@pytest.fixture
def problem_types(db):
    from fieldservice.requests.models import ProblemType

    types = [
        ProblemType(code="no_cooling", name_zh="不制冷", name_en="Not cooling", category="repair"),
        ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"),
        ProblemType(code="old", name_zh="旧类型", name_en="Retired type", category="other", active=False),
    ]
    db.session.add_all(types)
    db.session.commit()
    return types


@pytest.fixture
def make_request(db, make_customer, make_product, make_user, problem_types):
    """make_request(status=..., **fields) -> a ServiceRequest logged through create_request."""
    from fieldservice.requests import operations as ops

    state = {}

    def make(actor=None, now=None, **kw):
        if "actor" not in state:
            state["actor"] = make_user("dispatcher")
        customer = kw.pop("customer", None) or make_customer()
        product = kw.pop("product", None) or make_product()
        data = {
            "customer_id": customer.id,
            "product_id": product.id,
            "problem_type": "no_cooling",
            "description": "空调不制冷，室内温度 30 度",
            "priority": 3,
            "required_by": (now or utcnow()) + timedelta(days=2),
        }
        data.update(kw)
        sr = ops.create_request(data, actor or state["actor"], now=now)
        db.session.commit()
        return sr

    return make


@pytest.fixture
def engineer(make_engineer):
    return make_engineer(skills=["water_purifier"])


def visit_data(outcome="resolved", **kw):
    """A valid visit body (operations form: datetimes, not strings)."""
    now = utcnow()
    data = {
        "outcome": outcome,
        "arrived_at": now - timedelta(minutes=5),
        "finished_at": now,
        "labour_hours": 1.5,
        "cause": "压缩机启动电容损坏",
        "solution": "更换启动电容",
    }
    data.update(kw)
    return data
