"""Every operation of the OpenAPI document, run by schemathesis with each role's token: no answer may be a 5xx,
and every answer must match what the document declares for it.

The document is read once at collection from an app that touches no database (it is the same for every app);
each test then calls its own `app` fixture in-process, on the test database, seeded with a few rows so that ids
in paths hit real ones sometimes.
"""

from datetime import timedelta

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from fieldservice import create_app

from ..conftest import ROLES

# Per operation, across the roles; the suite's time on three xdist workers grows by about a minute with 25.
MAX_EXAMPLES = 25

schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json",
    create_app({"TESTING": True, "SECRET_KEY": "schema-only", "DATABASE_URL": "sqlite://", "REDIS_URL": None}),
)


@pytest.fixture(scope="module")
def password_hash() -> str:
    """One hash for every user of the module: hashing a password takes longer than a test's requests."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash("password123")


@pytest.fixture
def tokens(db, password_hash):
    """A bearer token per role, and a customer, equipment, an engineer and a request for ids to land on."""
    from fieldservice.auth.models import User
    from fieldservice.auth.operations import issue_token
    from fieldservice.core.models import utcnow
    from fieldservice.customers.models import Customer, Equipment, Product
    from fieldservice.engineers.models import Engineer, EngineerSkill
    from fieldservice.requests import operations as requests_operations
    from fieldservice.requests.models import ProblemType

    users = {role: User(username=role, name=role, role=role, password_hash=password_hash) for role in ROLES}
    db.session.add_all(users.values())
    db.session.flush()
    db.session.add(
        Engineer(
            user_id=users["engineer"].id,
            name="王工",
            zone="浦东",
            lat=31.22,
            lng=121.54,
            max_open_jobs=5,
            skills=[EngineerSkill(category="water_purifier")],
        )
    )
    tokens = {role: issue_token(user) for role, user in users.items()}
    customer = Customer(name="华东医院", phone="13800000001", address="上海市浦东新区1号", zone="浦东")
    product = Product(name="商用净水器", model="RO-1", category="water_purifier")
    equipment = Equipment(customer=customer, product=product, serial_number="SN00000001")
    db.session.add_all([customer, product, equipment])
    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
    db.session.flush()
    requests_operations.create_request(
        {
            "customer_id": equipment.customer_id,
            "equipment_id": equipment.id,
            "product_id": equipment.product_id,
            "problem_type": "leak",
            "description": "漏水",
            "priority": 2,
            "required_by": utcnow() + timedelta(days=2),
        },
        actor=users["dispatcher"],
    )
    db.session.commit()
    return tokens


@pytest.mark.postgres
@schema.parametrize()
@schema.given(role=st.sampled_from(ROLES))
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_operation(case, role, app, tokens):
    case.call_and_validate(
        app=app,
        headers={"Authorization": f"Bearer {tokens[role]}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
