from datetime import timedelta

import pytest

from fieldservice.core.models import utcnow


@pytest.fixture
def dispatcher(make_user):
    return make_user("dispatcher")


@pytest.fixture
def callback_agent(make_user):
    return make_user("callback")


@pytest.fixture
def make_resolved(db, make_equipment, make_engineer, dispatcher):
    """make_resolved(finished_at=...) -> a request resolved by a visit that finished then."""
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    if db.session.get(ProblemType, 1) is None:
        db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
        db.session.commit()
    engineers = {}

    def make(finished_at=None, customer=None):
        finished_at = finished_at or utcnow() - timedelta(minutes=1)
        start = finished_at - timedelta(hours=3)
        equipment = make_equipment(customer=customer)
        category = equipment.product.category
        engineer = engineers.get(category) or make_engineer(skills=[category], name="李师傅")
        engineers[category] = engineer
        sr = ops.create_request(
            {
                "customer_id": equipment.customer_id,
                "equipment_id": equipment.id,
                "problem_type": "leak",
                "description": "净水器漏水",
                "priority": 3,
                "required_by": start + timedelta(days=2),
                "contact_name": "王女士",
                "contact_phone": "13912345678",
            },
            dispatcher,
            now=start,
        )
        ops.perform(sr, "assign", dispatcher, None, engineer_id=engineer.id, now=start + timedelta(minutes=5))
        ops.record_visit(
            sr,
            {
                "outcome": "resolved",
                "arrived_at": finished_at - timedelta(hours=1),
                "finished_at": finished_at,
                "labour_hours": 1,
                "cause": "密封圈老化",
                "solution": "更换密封圈",
            },
            engineer.user,
            now=finished_at,
        )
        db.session.commit()
        return sr

    return make
