"""Log-in throttling (issue #20, finding 5): per client address and per account, without letting a stranger lock a
user out; counted atomically; the same work for known and unknown usernames."""

import threading

import pytest
import sqlalchemy as sa

from fieldservice import create_app
from fieldservice.auth import operations
from fieldservice.auth.models import LoginAttempt
from fieldservice.core.ratelimit import RateLimitBucket


def _login(app, username, password, address, path="/api/v1/auth/token"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if path == "/login":
        return client.post(path, data={"username": username, "password": password})
    return client.post(path, json={"username": username, "password": password})


def _count(db, key: str) -> int:
    return db.session.scalar(sa.select(sa.func.sum(RateLimitBucket.count)).where(RateLimitBucket.key == key)) or 0


@pytest.mark.parametrize("failures", [5, 99])
def test_wrong_passwords_from_one_address_do_not_lock_out_the_owner(app, make_user, failures):
    make_user("admin", username="boss")
    answers = {_login(app, "boss", "guess-guess", "203.0.113.9").status_code for _ in range(failures)}
    assert answers <= {401, 429}
    # The owner, elsewhere, with the right password: in at once (before: 429 for 15 minutes after 5 failures).
    assert _login(app, "boss", "password123", "198.51.100.7").status_code == 200


def test_the_address_limit_answers_429_with_retry_after(app, make_user):
    make_user("dispatcher", username="lina")
    limit = app.config["LOGIN_ADDRESS_MAX_FAILURES"]
    for i in range(limit):  # spraying several accounts from one address
        assert _login(app, f"user{i % 3}", "guess-guess", "203.0.113.9").status_code == 401
    refused = _login(app, "lina", "password123", "203.0.113.9")  # even a right password, from there
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_attempts"
    window = app.config["LOGIN_ADDRESS_WINDOW"].total_seconds()
    assert 0 < int(refused.headers["Retry-After"]) <= window
    page = _login(app, "lina", "password123", "203.0.113.9", path="/login")
    assert page.status_code == 429 and 0 < int(page.headers["Retry-After"]) <= window
    assert "lina" in page.get_data(as_text=True)  # the form again, with the message
    assert _login(app, "lina", "password123", "198.51.100.7").status_code == 200


def test_past_the_account_budget_only_addresses_that_logged_in_before_may_try(app, make_user, db):
    app.config["LOGIN_ACCOUNT_MAX_FAILURES"] = 10  # 100 in production (ASVS V2.2.1); fewer hashes here
    make_user("manager", username="wang")
    assert _login(app, "wang", "password123", "198.51.100.7").status_code == 200  # the office, last week
    for i in range(10):  # a botnet: a few tries from each of many addresses
        assert _login(app, "wang", "guess-guess", f"203.0.113.{i // 3}").status_code == 401
    stranger = _login(app, "wang", "password123", "192.0.2.1")
    assert stranger.status_code == 429 and stranger.get_json()["error"]["code"] == "account_throttled"
    assert 0 < int(stranger.headers["Retry-After"]) <= 3600
    assert _login(app, "wang", "guess-guess", "192.0.2.2").status_code == 429  # no more guesses counted
    # The owner from where they logged in before still gets in: a stranger cannot lock them out.
    assert _login(app, "wang", "password123", "198.51.100.7").status_code == 200
    assert _count(db, "login:user:wang") == 10
    # Refused attempts checked no password and count against no address.
    assert _count(db, "login:addr:192.0.2.1") == 0


def test_a_right_password_gives_its_slot_back(app, make_user, db):
    make_user("dispatcher", username="lina")
    _login(app, "lina", "wrong-wrong", "198.51.100.7")
    _login(app, "lina", "password123", "198.51.100.7")
    assert _count(db, "login:addr:198.51.100.7") == 1 and _count(db, "login:user:lina") == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 2


def _race(racing_app, username, password, n, address="203.0.113.50"):
    """n log-in attempts at once from n threads (each its own connection), released together."""
    barrier = threading.Barrier(n)
    answers = []

    def attempt():
        client = racing_app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        barrier.wait()
        answers.append(client.post("/api/v1/auth/token", json={"username": username, "password": password}))

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(a.status_code for a in answers)


@pytest.fixture
def racing_app(app_config, _schema):
    """make(**overrides): a second app on the same database, for threads of their own; closed after the test."""
    made = []

    def make(**overrides):
        made.append(create_app({**app_config, **overrides}))
        return made[-1]

    yield make
    for racing in made:
        with racing.app_context():
            operations.db.engine.dispose()
            redis = racing.extensions.get("fieldservice_redis")
            if redis is not None:
                redis.flushdb()
                redis.close()


@pytest.mark.postgres
def test_concurrent_wrong_tries_count_exactly(app, racing_app, make_user, db):
    make_user("dispatcher", username="lina")
    assert _race(racing_app(), "lina", "wrong-wrong", 20) == [401] * 20
    assert _count(db, "login:addr:203.0.113.50") == 20
    assert _count(db, "login:user:lina") == 20
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 20


@pytest.mark.postgres
def test_concurrent_tries_do_not_overshoot_the_limit(app, racing_app, make_user, db):
    make_user("dispatcher", username="lina")
    answers = _race(racing_app(LOGIN_ADDRESS_MAX_FAILURES=5), "lina", "wrong-wrong", 20)
    assert answers == [401] * 5 + [429] * 15  # before: the check and the count raced, and more got through
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 5


@pytest.mark.redis
def test_concurrent_tries_count_exactly_in_redis(app, racing_app, make_user, redis_url, caplog):
    from fieldservice.core.jobs import redis_connection

    make_user("dispatcher", username="lina")
    with_redis = racing_app(REDIS_URL=redis_url, LOGIN_ADDRESS_MAX_FAILURES=5)
    with with_redis.app_context():
        redis_connection().flushdb()
    assert _race(with_redis, "lina", "wrong-wrong", 20) == [401] * 5 + [429] * 15
    assert "Redis unreachable" not in caplog.text  # counted in Redis, not in the database fallback
    with with_redis.app_context():
        connection = redis_connection()
        (key,) = connection.keys("fieldservice:rate:login:addr:203.0.113.50:*")
        assert int(connection.get(key)) == 5
        assert 0 < connection.ttl(key) <= app.config["LOGIN_ADDRESS_WINDOW"].total_seconds() + 5


def test_an_unknown_username_costs_a_password_hash_too(app, make_user, monkeypatch):
    disabled = make_user("dispatcher", username="gone")
    disabled.active = False
    operations.db.session.commit()
    checked = []
    real_check = operations.check_password_hash

    def spy(pwhash, password):
        checked.append(pwhash)
        return real_check(pwhash, password)

    monkeypatch.setattr(operations, "check_password_hash", spy)
    assert _login(app, "nobody-by-that-name", "whatever-1", "198.51.100.7").status_code == 401
    assert checked == [operations._dummy_hash()]
    # The dummy is hashed the way a real password is (same method and cost), so the check takes as long.
    assert checked[0].split("$")[0] == disabled.password_hash.split("$")[0]
    assert _login(app, "gone", "password123", "198.51.100.7").status_code == 401  # disabled: checked as well
    assert checked[1] == disabled.password_hash


def test_with_redis_away_the_log_in_works_and_counts_in_the_database(app, app_config, make_user, db, caplog):
    make_user("dispatcher", username="lina")
    redis_away = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    try:
        assert _login(redis_away, "lina", "wrong-wrong", "198.51.100.7").status_code == 401
        assert _login(redis_away, "lina", "password123", "198.51.100.7").status_code == 200
    finally:
        with redis_away.app_context():
            db.session.remove()
            db.engine.dispose()
    assert "Redis unreachable" in caplog.text
    assert _count(db, "login:addr:198.51.100.7") == 1 and _count(db, "login:user:lina") == 1


def test_a_server_fault_during_the_check_counts_as_no_failure(app, make_user, db, monkeypatch):
    make_user("dispatcher", username="lina")

    def broken(*args):
        raise RuntimeError("the hash library broke")

    monkeypatch.setattr(operations, "_password_matches", broken)
    with pytest.raises(RuntimeError):
        _login(app, "lina", "password123", "198.51.100.7")
    assert _count(db, "login:addr:198.51.100.7") == 0 and _count(db, "login:user:lina") == 0


def test_logging_in_works_on_the_embedded_sqlite_database(app_config, tmp_path):
    """`make demo` runs on SQLite with no Redis: the throttle counts in the database, where one writer at a time may
    hold the file. A successful log-in gives its hit back before the request writes anything, or the count's own
    transaction would wait on the request's and fail ("database is locked", a 500)."""
    from fieldservice.extensions import db

    app = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}", "REDIS_URL": None})
    with app.app_context():
        db.create_all()
        operations.create_user("desk", "password123", "dispatcher")
        db.session.commit()
        try:
            console = _login(app, "desk", "password123", "198.51.100.7", path="/login")
            assert console.status_code == 302, console.get_data(as_text=True)[:300]
            api = _login(app, "desk", "password123", "198.51.100.7")
            assert api.status_code == 200 and api.get_json()["token"]
            assert _login(app, "desk", "wrong-password", "198.51.100.7").status_code == 401
            # Both successes gave their hits back; the failure counts.
            assert _count(db, "login:user:desk") == 1
        finally:
            db.session.remove()
            db.engine.dispose()
