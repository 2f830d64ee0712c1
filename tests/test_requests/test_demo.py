import random

from fieldservice.requests import demo
from fieldservice.requests.models import ProblemType, RequestEvent, ServiceRequest
from fieldservice.requests.states import STATUSES


def test_demo_without_master_data_seeds_problem_types_only(db):
    context = {}
    demo.seed(random.Random(1), context)
    db.session.commit()
    assert db.session.query(ProblemType).count() == len(demo.PROBLEM_TYPES)
    assert db.session.query(ServiceRequest).count() == 0


def test_demo_makes_requests_in_every_state_with_timelines(db, make_user, make_equipment, make_engineer):
    users = [make_user(role) for role in ("dispatcher", "manager", "callback")]
    equipment = [make_equipment() for _ in range(6)]
    engineers = [make_engineer(skills=["water_purifier"]) for _ in range(3)]
    context = {
        "users": users,
        "customers": [e.customer for e in equipment],
        "equipment": equipment,
        "products": [e.product for e in equipment],
        "engineers": engineers,
    }
    demo.seed(random.Random(7), context)
    db.session.commit()
    statuses = {sr.status for sr in db.session.query(ServiceRequest)}
    assert statuses == set(STATUSES)
    for sr in db.session.query(ServiceRequest):
        events = db.session.query(RequestEvent).filter_by(request_id=sr.id).order_by(RequestEvent.id).all()
        assert events[0].action == "create"
        changes = [e for e in events if e.to_status != e.from_status]
        assert changes[-1].to_status == sr.status
