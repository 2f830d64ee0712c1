"""The xdist workers' own databases and Redis dbs (tests/conftest.py), and the table reset between tests."""

import pytest

from tests.conftest import worker_database_url, worker_redis_url


def test_a_serial_run_uses_the_urls_as_given():
    assert worker_database_url("postgresql://postgres@127.0.0.1:5432/fs_ci", None) == (
        "postgresql://postgres@127.0.0.1:5432/fs_ci"
    )
    assert worker_redis_url("redis://127.0.0.1:6379/1", None) == "redis://127.0.0.1:6379/1"


def test_each_worker_gets_its_own_database():
    assert worker_database_url("postgresql://u:secret@db:5432/fs_ci?sslmode=disable", "gw2") == (
        "postgresql://u:secret@db:5432/fs_ci_gw2?sslmode=disable"
    )
    assert worker_database_url("sqlite:////tmp/x/test.db", "gw1") == "sqlite:////tmp/x/test_gw1.db"


def test_each_worker_gets_the_next_redis_db_and_never_past_15():
    assert worker_redis_url("redis://127.0.0.1:6379/1", "gw0") == "redis://127.0.0.1:6379/1"
    assert worker_redis_url("redis://127.0.0.1:6379/1", "gw2") == "redis://127.0.0.1:6379/3"
    assert worker_redis_url("redis://:pw@127.0.0.1:6379", "gw3") == "redis://:pw@127.0.0.1:6379/3"
    with pytest.raises(pytest.UsageError):
        worker_redis_url("redis://127.0.0.1:6379/14", "gw2")


@pytest.mark.parametrize("round_", [1, 2])
def test_every_test_starts_with_empty_tables_and_ids_from_one(db, make_customer, round_):
    from fieldservice.customers.models import Customer

    assert db.session.query(Customer).count() == 0
    assert make_customer().id == 1
    assert make_customer().id == 2
