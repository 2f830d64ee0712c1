"""The rollups against a recount: built, then kept up to date by the refresh after later changes, and exact for
every filter (whole months, parts of months, a zone, a category) with or without a refresh in between."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from fieldservice.analytics import queries, rollups
from fieldservice.analytics.filters import Filters
from fieldservice.analytics.models import Rollup, RollupState
from fieldservice.analytics.operations import refresh_rollups
from fieldservice.core.models import utcnow


def _filter_cases(history) -> list[Filters]:
    today = utcnow().date()
    base = history["base"].date()
    first = base.replace(day=1)
    return [
        Filters(),
        Filters(zone="浦东"),
        Filters(zone="徐汇", category="printer"),
        Filters(category="water_purifier"),
        Filters(since=base, until=base),
        Filters(since=base - timedelta(days=45), until=today),
        Filters(since=first, until=today),  # from a month's first day
        Filters(since=first - timedelta(days=70), until=first - timedelta(days=1)),  # up to a month's last day
        Filters(since=base + timedelta(days=1)),
        Filters(until=base - timedelta(days=1), zone="浦东"),
        Filters(since=today + timedelta(days=1)),  # nothing
    ]


def _assert_exact(history):
    assert rollups.ready()
    for f in _filter_cases(history):
        rolled, recounted = queries.dashboard(f), queries.dashboard(f, recount=True)
        assert (
            rolled.pop("as_of") == rollups.state().refreshed_at
            and recounted.pop("as_of") > rollups.state().refreshed_at
        )
        for a, b in zip(rolled.pop("tables"), recounted.pop("tables"), strict=True):
            assert a == b, (f, a["name"])
        assert rolled == recounted, f


def _refresh_settled(db, **kwargs) -> int:
    """Refresh as if the commit margin had passed: afterwards no day counts as touched, every figure is read from
    the stored rows."""
    days = refresh_rollups(now=utcnow() + timedelta(minutes=10), **kwargs)
    db.session.commit()  # as the job does: the dashboard reads on other connections (queries._gather)
    assert rollups.touched_days(rollups.state().watermark) == set()
    return days


def _rows(db) -> list[tuple]:
    return [tuple(r) for r in db.session.execute(sa.select(Rollup.__table__).order_by(*Rollup.__table__.primary_key))]


@pytest.fixture
def more_history(db, history, make_customer, make_product, make_engineer, make_user):
    """Requests spread over three months and the channels, some done by a second engineer."""
    from fieldservice.requests import operations as ops

    c = make_customer(zone="静安")
    p = make_product(category="printer")
    e2 = make_engineer(skills=["printer"], name="李师傅")
    dispatcher = make_user("dispatcher")
    made = []
    for i, (days_back, channel, priority) in enumerate(
        [(75, "web", 1), (62, "wechat", 2), (33, "email", 4), (31, "phone", 1), (3, "qr", 2), (0, "web", 3)]
    ):
        at = (utcnow() - timedelta(days=days_back)).replace(minute=0, second=0, microsecond=0)
        sr = ops.create_request(
            {
                "customer_id": c.id,
                "product_id": p.id,
                "problem_type": "install",
                "priority": priority,
                "channel": channel,
                "description": f"测试 {i}",
                "required_by": at + timedelta(days=20),
            },
            dispatcher,
            now=at,
        )
        db.session.commit()
        if i % 2 == 0:
            ops.perform(sr, "assign", dispatcher, sr.version, now=at + timedelta(minutes=20), engineer_id=e2.id)
            db.session.commit()
            ops.perform(sr, "accept", e2.user, sr.version, now=at + timedelta(minutes=30 + i))
            db.session.commit()
        made.append(sr)
    return {**history, "more": made, "c": c, "e2": e2, "dispatcher": dispatcher}


def test_built_rollups_equal_a_recount(db, more_history):
    assert not rollups.ready()  # before the first refresh: every figure is a recount
    days = _refresh_settled(db)
    assert days == len({sr.created_at.date() for sr in more_history["requests"] + more_history["more"]})
    months = db.session.scalar(sa.select(sa.func.count()).where(Rollup.dimension == "all", Rollup.grain == "month"))
    assert months >= 3
    _assert_exact(more_history)
    channels = {r["channel"]: r["requests"] for r in queries.requests_by_channel(Filters())}
    assert channels == {"phone": 6, "web": 2, "wechat": 1, "email": 1, "qr": 1}  # history's five by phone
    # The stored rows are what is read: change one behind the job's back and the dashboard shows it.
    db.session.execute(
        sa.update(Rollup).where(Rollup.dimension == "all", Rollup.grain == "month").values(requests=Rollup.requests + 1)
    )
    assert (
        queries.overview(Filters())["totals"]["requests"]
        != queries.overview(Filters(), recount=True)["totals"]["requests"]
    )


def test_changes_after_the_refresh_wait_for_the_next_one_which_redoes_only_the_touched_days(db, more_history):
    from fieldservice.requests import operations as ops

    _refresh_settled(db)
    state = db.session.get(RollupState, 1)
    # What follows happens after the refresh; what came before it (the fixtures' writes, a moment ago) does not
    # count as changed (a watermark a second back caught them on a fast machine).
    state.watermark = utcnow()
    db.session.commit()
    as_of = queries.dashboard(Filters())["as_of"]
    assert as_of == state.refreshed_at
    before = _rows(db)

    r3, r5 = more_history["requests"][2], more_history["requests"][4]
    e1, dispatcher = more_history["e1"], more_history["dispatcher"]
    now = utcnow()
    # r5, logged 50 days ago, is assigned and resolved now; r3 is cancelled.
    ops.perform(r5, "assign", dispatcher, r5.version, now=now, engineer_id=e1.id)
    db.session.commit()
    ops.record_visit(
        r5,
        {"outcome": "resolved", "arrived_at": now, "finished_at": now + timedelta(hours=1), "labour_hours": 1},
        e1.user,
        now=now + timedelta(hours=1),
    )
    db.session.commit()
    ops.perform(r3, "cancel", dispatcher, r3.version, now=now, reason="客户撤回")
    db.session.commit()
    # A customer moves zone: every day of its requests moves with it.
    more_history["c"].zone = "浦东"
    db.session.commit()

    touched = rollups.touched_days(rollups.state().watermark)
    expected = {r5.created_at.date(), r3.created_at.date()} | {sr.created_at.date() for sr in more_history["more"]}
    assert touched == expected
    # Until the next refresh the dashboard shows the figures as of the last one (and says so).
    assert _rows(db) == before
    stale = queries.overview(Filters())["totals"]
    assert stale["open"] == queries.overview(Filters(), recount=True)["totals"]["open"] + 2
    assert queries.overview(Filters(zone="静安"))["totals"]["requests"] == len(more_history["more"])

    assert _refresh_settled(db) == len(expected)  # only the touched days
    assert _rows(db) != before
    _assert_exact(more_history)
    assert queries.overview(Filters(zone="静安"))["totals"]["requests"] == 0
    assert queries.dashboard(Filters())["as_of"] > as_of


def test_refresh_is_idempotent(db, more_history):
    _refresh_settled(db)
    first = _rows(db)
    assert _refresh_settled(db) == 0  # nothing changed: no day to do
    assert _rows(db) == first
    _refresh_settled(db, full=True)
    assert _rows(db) == first
    state = db.session.get(RollupState, 1)
    state.watermark = utcnow() - timedelta(days=1)  # as if everything had changed since: every day again
    db.session.commit()
    assert _refresh_settled(db) == len({sr.created_at.date() for sr in more_history["requests"] + more_history["more"]})
    assert _rows(db) == first


def test_the_job_refreshes_and_the_api_reads_the_rollups(db, more_history, api_as):
    from fieldservice.analytics.jobs import refresh_rollups as job
    from fieldservice.core.jobs import PERIODIC

    assert any(p["id"] == "analytics-rollups" for p in PERIODIC)
    assert job() > 0
    db.session.commit()
    data = api_as("manager").get("/api/v1/analytics/dashboard", query_string={"lang": "en"}).json
    assert data["totals"]["requests"] == 11
    channels = next(t for t in data["tables"] if t["name"] == "channels")["rows"]
    assert {k: v for k, v in channels[0].items() if k != "share"} == {
        "channel": "phone",
        "label": "Phone",
        "requests": 6,
        "open": 3,
    }
    assert channels[0]["share"] == pytest.approx(100 * 6 / 11, abs=0.1)


def test_full_months_are_read_from_month_rows():
    assert rollups._full_months(Filters(since=date(2026, 3, 1), until=date(2026, 5, 31))) == (
        date(2026, 3, 1),
        date(2026, 5, 1),
    )
    assert rollups._full_months(Filters(since=date(2026, 3, 2), until=date(2026, 5, 30))) == (
        date(2026, 4, 1),
        date(2026, 4, 1),
    )
    assert rollups._full_months(Filters(since=date(2026, 3, 2), until=date(2026, 3, 30)))[0] > date(2026, 3, 1)
    assert rollups._full_months(Filters()) == (None, None)
    assert rollups._full_months(Filters(until=date(2026, 12, 31))) == (None, date(2026, 12, 1))


def test_a_refresh_leaves_exactly_the_rows_a_full_build_makes(db, more_history, make_customer, make_product):
    """The refresh moves the stored rows by each touched cell's difference: after changes of every kind (a new
    cell, a cell emptied, an engineer changed, a response time, a customer moving zone) they are the rows that a
    build from scratch makes, NULL sums and month rows included."""
    from fieldservice.requests import operations as ops

    newcomer, hvac = make_customer(zone="闵行"), make_product(category="hvac")
    _refresh_settled(db)
    state = db.session.get(RollupState, 1)
    state.watermark = utcnow()
    db.session.commit()
    r1, _, r3, _, r5 = more_history["requests"]
    e2, dispatcher = more_history["e2"], more_history["dispatcher"]
    now = utcnow()
    ops.perform(r3, "assign", dispatcher, r3.version, now=now, engineer_id=e2.id)  # the engineer's rows move
    db.session.commit()
    ops.perform(r3, "accept", e2.user, r3.version, now=now + timedelta(minutes=7))  # a response time, none before
    db.session.commit()
    ops.perform(r5, "cancel", dispatcher, r5.version, now=now, reason="客户撤回")  # alone in its cell: status moves
    db.session.commit()
    # A new zone and category on a day that has rows: a new cell (new rows in every way), two requests in it.
    for minutes in (30, 40):
        ops.create_request(
            {
                "customer_id": newcomer.id,
                "product_id": hvac.id,
                "problem_type": "install",
                "priority": 1,
                "description": "新区",
                "required_by": now + timedelta(days=3),
            },
            dispatcher,
            now=r1.created_at + timedelta(minutes=minutes),
        )
        db.session.commit()
    _assert_refresh_makes_the_rows_of_a_full_build(db)
    # 静安's only customer moves: its cells there are emptied (their rows go), 浦东's grow.
    more_history["c"].zone = "浦东"
    db.session.commit()
    refreshed = _assert_refresh_makes_the_rows_of_a_full_build(db)
    assert not [row for row in refreshed if row[2] == "静安"]
    _assert_exact(more_history)


def _assert_refresh_makes_the_rows_of_a_full_build(db) -> list[tuple]:
    assert _refresh_settled(db) > 0
    refreshed = _rows(db)
    _refresh_settled(db, full=True)
    assert refreshed == _rows(db)
    state = db.session.get(RollupState, 1)
    state.watermark = utcnow()
    db.session.commit()
    return refreshed
