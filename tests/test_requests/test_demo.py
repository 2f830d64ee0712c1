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


def master_data(
    make_user, make_equipment, make_engineer, roles=("dispatcher", "manager", "callback")
) -> dict:
    """The seed context the earlier demos leave: staff by role, customers with equipment, engineers."""
    equipment = [make_equipment() for _ in range(6)]
    return {
        "users": {role: make_user(role) for role in roles},
        "customers": [e.customer for e in equipment],
        "equipment": equipment,
        "products": [e.product for e in equipment],
        "engineers": [make_engineer(skills=["water_purifier"]) for _ in range(3)],
    }


def test_demo_makes_requests_in_every_state_with_timelines(db, make_user, make_equipment, make_engineer):
    context = master_data(make_user, make_equipment, make_engineer)
    demo.seed(random.Random(7), context)
    db.session.commit()
    statuses = {sr.status for sr in db.session.query(ServiceRequest)}
    assert statuses == set(STATUSES)
    for sr in db.session.query(ServiceRequest):
        events = db.session.query(RequestEvent).filter_by(request_id=sr.id).order_by(RequestEvent.id).all()
        assert events[0].action == "create"
        changes = [e for e in events if e.to_status != e.from_status]
        assert changes[-1].to_status == sr.status


def test_demo_visits_use_parts_from_the_engineers_van(db, make_user, make_equipment, make_engineer):
    """The parts demo runs first (seed order) and stocks every van; resolved visits then use van parts."""
    import sqlalchemy as sa

    from fieldservice.parts import demo as parts_demo
    from fieldservice.parts.models import Part, StockLevel, VisitPart, Warehouse
    from fieldservice.requests.models import Visit

    context = master_data(
        make_user, make_equipment, make_engineer, roles=("admin", "dispatcher", "manager", "callback")
    )
    parts_demo.seed(random.Random(3), context)
    db.session.commit()

    def van_stock():
        return db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(StockLevel.qty), 0))
            .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
            .where(Warehouse.kind == "van")
        )

    before = van_stock()
    demo.seed(random.Random(7), context)
    db.session.commit()
    used = db.session.scalars(sa.select(VisitPart)).all()
    assert used, "no demo visit used a part"
    for line in used:
        visit = db.session.get(Visit, line.visit_id)
        van = db.session.get(Warehouse, line.warehouse_id)
        # Out of the van of the engineer who did the resolving visit, a part of the request's kind of work.
        assert visit.outcome == "resolved" and van.kind == "van" and van.engineer_id == visit.engineer_id
        assert db.session.get(Part, line.part_id).category == visit.request.service_category
    assert van_stock() == before - sum(line.qty for line in used)


def test_demo_requests_fit_the_unit_they_are_about(db):
    """A request's problem, description and visit findings are those of its product's kind (no air-conditioner
    repairs on a kindergarten's biochemical analyzer)."""
    from fieldservice.cli import seed_all
    from fieldservice.customers import demo as customers_demo
    from fieldservice.requests.models import Visit

    seed_all()
    requests = db.session.query(ServiceRequest).all()
    assert requests
    for sr in requests:
        if sr.channel == "maintenance":
            continue
        problems = demo.DESCRIPTIONS[sr.product.category]
        assert sr.problem_type in problems and sr.description in problems[sr.problem_type], sr.number
    causes = {category: {cause for cause, _ in pairs} for category, pairs in demo.CAUSES.items()}
    unsolved = {cause for cause, _ in demo.UNSOLVED}
    for visit in db.session.query(Visit):
        category = visit.request.product.category
        assert visit.cause in causes[category] | unsolved, (visit.request.number, visit.cause)
    kinds = dict(customers_demo.COMPANIES)
    for sr in requests:
        if sr.equipment is not None:
            assert sr.equipment.product.category in kinds[sr.customer.name]
