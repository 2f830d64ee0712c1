"""The demo team: twelve engineers with logins, skills over the product categories, Shanghai zones, some
leave."""

import random

from fieldservice.auth import demo as auth_demo
from fieldservice.customers import demo as customers_demo
from fieldservice.customers.categories import CATEGORIES
from fieldservice.engineers import demo
from fieldservice.engineers.models import Engineer, EngineerLeave


def test_demo_engineers(db, client):
    context: dict = {}
    rng = random.Random(20261123)
    for module in (auth_demo, customers_demo, demo):
        module.seed(rng, context)
    db.session.commit()

    engineers = context["engineers"]
    assert [e.user.username for e in engineers] == [f"eng{n:02d}" for n in range(1, 13)]
    assert db.session.query(Engineer).count() == 12
    assert all(e.user.role == "engineer" and e.skill_categories for e in engineers)
    assert set().union(*(e.skill_categories for e in engineers)) == set(CATEGORIES)
    customer_zones = {c.zone for c in context["customers"]}
    assert {e.zone for e in engineers} <= customer_zones
    assert 1 <= len({leave.engineer_id for leave in db.session.query(EngineerLeave)}) <= 2
    token = client.post("/api/v1/auth/token", json={"username": "eng01", "password": "engineer"})
    assert token.status_code == 200 and token.json["user"]["role"] == "engineer"
