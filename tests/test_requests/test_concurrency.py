"""Ten people acting on one request at the same moment, on real PostgreSQL: exactly one wins."""

import threading

import pytest
import sqlalchemy as sa

from fieldservice.core.errors import Conflict
from fieldservice.requests import operations as ops
from fieldservice.requests.models import RequestEvent, ServiceRequest

pytestmark = pytest.mark.postgres


def race(app, request_id, version, attempts):
    """Run each (user_id, action, payload) in its own thread and session, all released at once."""
    from fieldservice.auth.models import User
    from fieldservice.extensions import db

    barrier = threading.Barrier(len(attempts))
    results = [None] * len(attempts)

    def attempt(i, user_id, action, payload):
        with app.app_context():
            try:
                user = db.session.get(User, user_id)
                sr = db.session.get(ServiceRequest, request_id)
                barrier.wait(5)
                ops.perform(sr, action, user, version, **payload)
                db.session.commit()
                results[i] = "won"
            except Conflict as exc:
                db.session.rollback()
                results[i] = exc.code
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(i, *a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_ten_assign_or_claim_at_once_one_wins(app, db, make_request, make_user, make_engineer):
    sr = make_request()
    engineers = [make_engineer(skills=["water_purifier"]) for _ in range(5)]
    dispatchers = [make_user("dispatcher") for _ in range(5)]
    attempts = [(d.id, "assign", {"engineer_id": engineers[i].id}) for i, d in enumerate(dispatchers)]
    attempts += [(e.user_id, "claim", {}) for e in engineers]
    results = race(app, sr.id, sr.version, attempts)
    assert results.count("won") == 1, results
    # The losers read the same version: each gets 409 (stale, or already assigned when it got the row).
    assert all(r in ("stale_version", "illegal_transition") for r in results if r != "won"), results
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).status == "assigned"
    moves = db.session.scalars(
        sa.select(RequestEvent.action).where(
            RequestEvent.request_id == sr.id, RequestEvent.action.in_(("assign", "claim"))
        )
    ).all()
    assert len(moves) == 1


def test_concurrent_intake_numbers_stay_unique(
    app, db, make_customer, make_product, make_user, problem_types
):
    from datetime import timedelta

    from fieldservice.auth.models import User
    from fieldservice.core.models import utcnow

    # Plain ids: the threads must not touch the main session's objects.
    customer_id, product_id, dispatcher_id = make_customer().id, make_product().id, make_user("dispatcher").id
    barrier = threading.Barrier(10)
    errors = []

    def log_one():
        with app.app_context():
            try:
                user = db.session.get(User, dispatcher_id)
                barrier.wait(5)
                ops.create_request(
                    {
                        "customer_id": customer_id,
                        "product_id": product_id,
                        "problem_type": "leak",
                        "description": "漏水",
                        "priority": 3,
                        "required_by": utcnow() + timedelta(days=1),
                    },
                    user,
                )
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=log_one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    numbers = db.session.scalars(sa.select(ServiceRequest.number)).all()
    assert len(numbers) == len(set(numbers)) == 10
