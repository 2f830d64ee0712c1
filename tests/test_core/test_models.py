"""core.models helpers: bulk insert, the per-transaction cache, within_savepoint()."""

import sqlalchemy as sa

from fieldservice.auth.models import LoginAttempt
from fieldservice.core.models import insert_many, transaction_cache, utcnow, within_savepoint


def _attempts(n: int) -> list[LoginAttempt]:
    return [
        LoginAttempt(username=f"用户{i}", remote_addr="10.0.0.1", at=utcnow(), success=i % 2 == 0) for i in range(n)
    ]


def _stored(db) -> list[tuple]:
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(LoginAttempt.id, LoginAttempt.username, LoginAttempt.success).order_by(LoginAttempt.id)
        )
    ]


def test_insert_many_stores_rows_with_ids_and_keeps_them_in_the_session(db):
    attempts = _attempts(25)
    insert_many(attempts)
    ids = [a.id for a in attempts]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 25
    assert all(a in db.session for a in attempts)
    assert not db.session.new  # nothing left pending: no second INSERT at the next flush
    db.session.commit()
    assert _stored(db) == [(a.id, a.username, a.success) for a in attempts]
    # The objects are ordinary stored rows: a change to one is an UPDATE.
    attempts[0].success = False
    db.session.commit()
    assert db.session.scalar(sa.select(LoginAttempt.success).where(LoginAttempt.id == ids[0])) is False


def test_insert_many_with_uneven_attributes_falls_back_to_the_flush(db):
    attempts = _attempts(2)
    del attempts[1].__dict__["remote_addr"]  # one object leaves a column to its default
    insert_many(attempts)
    db.session.commit()
    assert [a.remote_addr for a in attempts] == ["10.0.0.1", None]
    assert len(_stored(db)) == 2


def test_insert_many_stores_each_class_given(db):
    from fieldservice.auth.models import User

    users = [User(username=f"批量{i}", role="engineer", name=f"工程师{i}", password_hash="!") for i in range(3)]
    attempts = _attempts(3)
    insert_many([users[0], *attempts, *users[1:]])
    assert all(isinstance(obj.id, int) for obj in [*users, *attempts]) and not db.session.new
    db.session.commit()
    assert len(_stored(db)) == 3
    stored_users = db.session.scalars(sa.select(User.username).where(User.username.like("批量%")))
    assert sorted(stored_users) == [u.username for u in users]


def test_insert_many_of_nothing_does_nothing(db):
    insert_many([])
    assert not db.session.new and _stored(db) == []


def test_transaction_cache_lives_as_long_as_the_transaction(db):
    transaction_cache("t")["a"] = 1
    with db.session.begin_nested():
        transaction_cache("t")["b"] = 2
    # A released savepoint keeps what it learnt.
    assert transaction_cache("t") == {"a": 1, "b": 2}
    nested = db.session.begin_nested()
    transaction_cache("t")["c"] = 3
    nested.rollback()
    # A rolled-back savepoint may have undone what the cache remembers (row locks too): all forgotten.
    assert transaction_cache("t") == {}
    transaction_cache("t")["d"] = 4
    db.session.commit()
    assert transaction_cache("t") == {}


def test_within_savepoint_undoes_its_own_change_alone(db):
    db.session.add(LoginAttempt(username="kept"))
    try:
        with within_savepoint():
            db.session.add(LoginAttempt(username="undone"))
            db.session.flush()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    db.session.commit()
    assert [u for _, u, _ in _stored(db)] == ["kept"]


def test_within_savepoint_inside_a_callers_savepoint_uses_that_one(db):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.session.begin_nested(), within_savepoint():
            db.session.add(LoginAttempt(username="inner"))
            db.session.flush()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert sum(s.startswith("SAVEPOINT") for s in statements) == 1
    db.session.commit()
    assert [u for _, u, _ in _stored(db)] == ["inner"]


def test_insert_many_keeps_ids_drawn_ahead(db):
    from fieldservice.core.models import draws_ids, next_ids

    if not draws_ids():
        return  # SQLite: no sequence to draw from; insert_many uses the flush
    attempts = _attempts(3)
    ids = next_ids(LoginAttempt, 3)
    assert ids == sorted(ids) and len(set(ids)) == 3
    for attempt, drawn in zip(attempts, ids, strict=True):
        attempt.id = drawn
    insert_many(attempts)
    db.session.commit()
    assert _stored(db) == [(i, a.username, a.success) for i, a in zip(ids, attempts, strict=True)]
