"""Fixtures of the contracts domain: agreement types, agreements, and requests with a finished visit."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from fieldservice.core import clock
from fieldservice.core.models import utcnow


@pytest.fixture
def manager(make_user):
    return make_user("manager")


@pytest.fixture
def gold_type(db, manager):
    from fieldservice.contracts import operations as ops

    agreement_type = ops.create_agreement_type(
        {
            "code": "gold",
            "name": "金牌服务协议",
            "response_hours": 4,
            "resolution_hours": 24,
            "terms": "7x24 小时响应，备件与人工全包。",
            "service_items": ["repair", "maintenance"],
            "charging_method": "covered",
            "labour_rate": Decimal("150.00"),
            "visit_fee": Decimal("100.00"),
            "maintenance_cycle_months": 3,
        },
        manager,
    )
    db.session.commit()
    return agreement_type


@pytest.fixture
def make_agreement(db, manager):
    """make_agreement(customer, equipment=[...], **terms) -> an Agreement valid today unless dates are given."""
    from fieldservice.contracts import operations as ops

    def make(customer, equipment=(), **kw):
        today = clock.today()
        data = {
            "customer_id": customer.id,
            "name": "服务协议",
            "response_hours": 8,
            "resolution_hours": 48,
            "starts_on": today - timedelta(days=30),
            "ends_on": today + timedelta(days=335),
            "charging_method": "labour_only",
            "labour_rate": Decimal("100.00"),
            "visit_fee": Decimal("50.00"),
            "equipment_ids": [e.id for e in equipment],
        }
        data.update(kw)
        agreement = ops.create_agreement(data, manager)
        db.session.commit()
        return agreement

    return make


@pytest.fixture
def repair_type(db):
    from fieldservice.requests.models import ProblemType

    problem_types = [
        ProblemType(code="no_cooling", name_zh="不制冷", name_en="Not cooling", category="repair"),
        ProblemType(code="install", name_zh="安装", name_en="Installation", category="installation"),
    ]
    db.session.add_all(problem_types)
    db.session.commit()
    return problem_types[0]


@pytest.fixture
def finished_visit(db, make_user, make_engineer, repair_type):
    """finished_visit(customer, equipment, hours=2, costs=[...]) -> a Visit recorded through the request loop."""
    from fieldservice.requests import operations as requests_ops

    def make(customer, equipment=None, hours="2", costs=(), problem_type="no_cooling"):
        dispatcher = make_user("dispatcher")
        engineer = make_engineer(skills=[equipment.product.category if equipment else "water_purifier"])
        data = {
            "customer_id": customer.id,
            "problem_type": problem_type,
            "description": "净水器出水量小",
            "priority": 3,
            "required_by": utcnow() + timedelta(days=2),
        }
        if equipment is not None:
            data["equipment_id"] = equipment.id
        else:
            data["service_category"] = "water_purifier"
        sr = requests_ops.create_request(data, dispatcher)
        requests_ops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id)
        db.session.commit()
        now = utcnow()
        visit = requests_ops.record_visit(
            sr,
            {
                "outcome": "resolved",
                "arrived_at": now,
                "finished_at": now,
                "labour_hours": hours,
                "solution": "更换滤芯",
                "costs": list(costs),
            },
            engineer.user,
            sr.version,
        )
        db.session.commit()
        return visit

    return make


def on(days: int) -> date:
    from fieldservice.core.clock import today

    return today() + timedelta(days=days)
