"""Callback agents calling the same customer at the same moment, on real PostgreSQL."""

import threading

import pytest
import sqlalchemy as sa

from fieldservice.core.errors import Conflict
from fieldservice.requests.models import ServiceRequest
from fieldservice.revisits import operations as ops
from fieldservice.revisits.models import CallbackAttempt, UnreachableClosing

pytestmark = pytest.mark.postgres


def test_concurrent_attempts_are_counted_one_after_the_other(app, db, make_resolved, make_user):
    from fieldservice.auth.models import User
    from fieldservice.extensions import db as _db

    sr = make_resolved()
    first = make_user("callback")
    ops.record_attempt(sr, {"reason": "no_answer"}, first)
    db.session.commit()
    agents = [make_user("callback").id for _ in range(4)]
    request_id = sr.id
    barrier = threading.Barrier(len(agents))
    results = [None] * len(agents)

    def call(i, user_id):
        with app.app_context():
            try:
                user = _db.session.get(User, user_id)
                target = _db.session.get(ServiceRequest, request_id)
                barrier.wait(5)
                _attempt, closing = ops.record_attempt(target, {"reason": "busy"}, user)
                _db.session.commit()
                results[i] = "closed" if closing else "recorded"
            except Conflict as exc:
                _db.session.rollback()
                results[i] = exc.code
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=call, args=(i, a)) for i, a in enumerate(agents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # 1 before + 1 recorded + the 3rd closes; the other two find the request closed.
    assert sorted(results) == ["closed", "illegal_transition", "illegal_transition", "recorded"], results
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CallbackAttempt)) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UnreachableClosing)) == 1
    assert db.session.get(ServiceRequest, request_id).status == "revisited"
