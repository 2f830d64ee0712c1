"""Document numbers: one counter per series, the formats each domain hands out, no duplicates under concurrency,
and the counters carried over from the four tables they replace."""

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from fieldservice.complaints import operations as complaint_ops
from fieldservice.core.clock import today
from fieldservice.core.numbering import NumberCounter, next_number
from fieldservice.extensions import db as _db
from fieldservice.parts import operations as parts_ops
from fieldservice.requests import operations as request_ops

# 23 Nov 2026, 17:00 UTC is already 24 Nov, 01:00 in the site's zone (Asia/Shanghai in the tests).
LATE_EVENING_UTC = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def test_each_series_counts_from_one_on_its_own(db):
    assert [next_number("SR-20261123") for _ in range(3)] == [
        "SR-20261123-0001",
        "SR-20261123-0002",
        "SR-20261123-0003",
    ]
    assert next_number("SR-20261124") == "SR-20261124-0001"
    assert next_number("AG-2026") == "AG-2026-0001"
    assert next_number("INV-2026") == "INV-2026-0001"
    assert next_number("SR-20261123") == "SR-20261123-0004"
    counters = dict(db.session.execute(sa.select(NumberCounter.series, NumberCounter.last)).all())
    assert counters == {"SR-20261123": 4, "SR-20261124": 1, "AG-2026": 1, "INV-2026": 1}


def test_the_sequence_keeps_four_digits_and_grows_past_them(db):
    db.session.add(NumberCounter(series="PR-20261123", last=9998))
    db.session.flush()
    assert next_number("PR-20261123") == "PR-20261123-9999"
    assert next_number("PR-20261123") == "PR-20261123-10000"


def test_request_and_complaint_numbers_take_the_site_day(db):
    assert request_ops.next_number(LATE_EVENING_UTC) == "SR-20261124-0001"
    assert request_ops.next_number(LATE_EVENING_UTC) == "SR-20261124-0002"
    # Complaints have their own series on the same day.
    assert complaint_ops.next_number(LATE_EVENING_UTC) == "TS-20261124-0001"


def test_parts_numbers_count_per_prefix_and_day(db):
    day = today().strftime("%Y%m%d")
    assert parts_ops.next_number("PR") == f"PR-{day}-0001"
    assert parts_ops.next_number("RO") == f"RO-{day}-0001"
    assert parts_ops.next_number("SC") == f"SC-{day}-0001"
    assert parts_ops.next_number("PR") == f"PR-{day}-0002"


def test_a_number_drawn_in_a_rolled_back_transaction_is_drawn_again(db):
    next_number("AG-2026")
    db.session.commit()
    assert next_number("AG-2026") == "AG-2026-0002"
    db.session.rollback()
    assert next_number("AG-2026") == "AG-2026-0002"


@pytest.mark.postgres
def test_concurrent_draws_are_distinct_and_contiguous(app, db):
    threads_n, per_thread = 8, 25
    barrier = threading.Barrier(threads_n)
    drawn: list[str] = []
    errors: list[Exception] = []

    def draw():
        # Its own app context: its own session and connection, one transaction per number.
        with app.app_context():
            try:
                barrier.wait(10)
                for _ in range(per_thread):
                    number = next_number("SR-20261123")
                    _db.session.commit()
                    drawn.append(number)
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=draw) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(drawn) == [f"SR-20261123-{n:04d}" for n in range(1, threads_n * per_thread + 1)]
    assert db.session.scalar(sa.select(NumberCounter.last).where(NumberCounter.series == "SR-20261123")) == 200


OLD_COUNTERS = {
    "request_number_counters": [{"day": "20261123", "last": 7}],
    "complaint_number_counters": [{"day": "20261123", "last": 3}],
    "parts_number_counters": [
        {"prefix": "PR", "day": "20261123", "last": 12},
        {"prefix": "RO", "day": "20261122", "last": 2},
        {"prefix": "SC", "day": "20261123", "last": 1},
    ],
    "contract_number_counters": [{"series": "AG-2026", "last": 41}, {"series": "INV-2026", "last": 9}],
}


def _rows(rows) -> list[dict]:
    return sorted((dict(row) for row in rows), key=lambda row: sorted(row.items()))


def _insert_old_counters() -> None:
    for table, rows in OLD_COUNTERS.items():
        for row in rows:
            columns, values = ", ".join(row), ", ".join(f":{column}" for column in row)
            _db.session.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)
    _db.session.commit()


def test_the_migration_carries_every_counter_over_and_back(fresh_app):
    upgrade(revision="3f1d2a9b7c10")
    _insert_old_counters()
    upgrade()
    counters = dict(_db.session.execute(sa.select(NumberCounter.series, NumberCounter.last)).all())
    assert counters == {
        "SR-20261123": 7,
        "TS-20261123": 3,
        "PR-20261123": 12,
        "RO-20261122": 2,
        "SC-20261123": 1,
        "AG-2026": 41,
        "INV-2026": 9,
    }
    # Numbering goes on where the old tables left off: no number is handed out twice.
    assert next_number("SR-20261123") == "SR-20261123-0008"
    assert next_number("INV-2026") == "INV-2026-0010"
    _db.session.commit()
    _db.session.remove()

    downgrade(revision="3f1d2a9b7c10")
    with _db.engine.connect() as conn:
        assert "number_counters" not in sa.inspect(conn).get_table_names()
        restored = {table: _rows(conn.execute(sa.text(f"SELECT * FROM {table}")).mappings()) for table in OLD_COUNTERS}
    expected = {table: _rows(rows) for table, rows in OLD_COUNTERS.items()}
    expected["request_number_counters"] = [{"day": "20261123", "last": 8}]
    expected["contract_number_counters"] = _rows(
        [{"series": "AG-2026", "last": 41}, {"series": "INV-2026", "last": 10}]
    )
    assert restored == expected
