"""Benchmark the analytics dashboard: every figure it shows, on a generated history, before and after rollups.

    export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_ana_bench
    python bench/analytics_dashboard.py --generate                  # 100,000 requests
    python bench/analytics_dashboard.py --generate --requests 1000000
    python bench/analytics_dashboard.py

--generate fills the database first with bench/generate.py (drops every table). Prints the time of the whole
dashboard (median and worst of --runs) unfiltered, for one zone, for the last 30 days and for one category over 90
days: first as a recount over the requests (before), then read from the rollups (after); target < 500 ms. Then the
rollups' upkeep: the full build, a refresh after a busy minute's changes and after 1,000 requests changed over the
year (each one more visit: every breakdown's rows move), and the dashboard while those changes wait for it.
--upkeep-only: the full build and the refreshes, no dashboards.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _time(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generate", action="store_true", help="run bench/generate.py --reset first")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--upkeep-only", action="store_true", help="time the full build and the refreshes only")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL"):
        parser.error("set DATABASE_URL, e.g. postgresql://postgres@127.0.0.1:5432/fs_ana_bench")
    if args.generate:
        from bench import generate

        if generate.main(["--reset", "--requests", str(args.requests)]):
            return 1

    from fieldservice import create_app
    from fieldservice.analytics import queries, rollups
    from fieldservice.analytics.filters import Filters
    from fieldservice.analytics.models import Rollup, RollupState
    from fieldservice.analytics.operations import refresh_rollups
    from fieldservice.core.models import utcnow
    from fieldservice.extensions import db

    app = create_app({"SECRET_KEY": "bench-secret", "REDIS_URL": None})
    with app.test_request_context("/?lang=zh_Hans"), app.app_context():
        db.create_all()  # the tables of domains newer than the generated data (complaints...), empty
        for index in Rollup.metadata.tables["service_requests"].indexes:
            index.create(db.engine, checkfirst=True)
        db.session.execute(sa.delete(RollupState))  # "before": no rollups, every figure a recount
        # The generator stamps a request with its last event, some in the days ahead (appointments); the app
        # stamps changes when they happen. As the app would have it, or those requests stay "changed" for days.
        db.session.execute(
            sa.text("UPDATE service_requests SET updated_at = created_at WHERE updated_at > now() at time zone 'utc'")
        )
        db.session.commit()
        total = db.session.scalar(db.text("SELECT count(*) FROM service_requests"))
        zone = queries.zones()[0]
        today = date.today()
        cases = {
            "all requests": Filters(),
            f"zone {zone}": Filters(zone=zone),
            "last 30 days": Filters(since=today - timedelta(days=30), until=today),
            "one category, 90 days": Filters(since=today - timedelta(days=90), until=today, category="hvac"),
        }
        print(f"{db.engine.dialect.name}, {total:,} requests, {args.runs} runs each (target < 500 ms)")
        if not args.upkeep_only:
            print("before: a recount over the requests")
            _dashboards(queries, cases, args.runs)

        started = time.perf_counter()
        days = refresh_rollups(full=True, now=utcnow() + timedelta(minutes=10))
        db.session.commit()
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(Rollup))
        print(f"rollups built: {days} days, {rows:,} rows in {time.perf_counter() - started:.1f} s")
        if not args.upkeep_only:
            print("after: read from the rollups")
            _dashboards(queries, cases, args.runs)

        # Requests changed after the refresh (work goes on): the dashboard shows the figures as of the last refresh
        # until the job has taken them in. A minute of a busy desk touches the open work of the last days and a few old
        # requests; the worst case is a change on every day of the year.
        changes = {
            "100 open requests of the last 10 days and 5 older ones": (
                "(SELECT id FROM service_requests WHERE created_at > now() - interval '10 days' "
                "ORDER BY random() LIMIT 100) UNION (SELECT id FROM service_requests ORDER BY random() LIMIT 5)"
            ),
            "1,000 requests all over the year (worst case)": (
                "SELECT id FROM service_requests ORDER BY random() LIMIT 1000"
            ),
        }
        for what, ids in changes.items():
            state = db.session.get(RollupState, 1)
            state.watermark = utcnow() - timedelta(seconds=1)
            db.session.commit()
            # A real change (one more visit), not only a new stamp: the refresh writes only the rows that moved.
            db.session.execute(
                sa.text(
                    "UPDATE service_requests SET updated_at = now() at time zone 'utc', visit_count = visit_count + 1 "
                    f"WHERE id IN ({ids})"
                )
            )
            db.session.commit()
            touched = len(rollups.touched_days(state.watermark))
            print(f"after {what} changed ({touched} days touched): the figures as of the last refresh")
            if not args.upkeep_only:
                _dashboards(queries, {"all requests": Filters(), f"zone {zone}": Filters(zone=zone)}, args.runs, False)
            started = time.perf_counter()
            days = refresh_rollups(now=utcnow() + timedelta(minutes=10))
            db.session.commit()
            print(f"  refresh (the job, every minute): {days} days in {time.perf_counter() - started:.1f} s")
    return 0


def _dashboards(queries, cases: dict, runs: int, tables: bool = True) -> None:
    from fieldservice.analytics.filters import Filters

    for name, filters in cases.items():
        queries.dashboard(filters)  # warm the caches once, as a running server has them
        median, worst = _time(lambda f=filters: queries.dashboard(f), runs)
        verdict = "ok" if worst < 500 else "OVER"
        print(f"  dashboard, {name:24} median {median:7.1f} ms  worst {worst:7.1f} ms  (target < 500 ms: {verdict})")
    if not tables:
        return
    for spec in queries.TABLES.values():
        median, _ = _time(lambda s=spec: s.rows(Filters()), 3)
        print(f"    table {spec.name:16} {median:7.1f} ms")
    median, _ = _time(lambda: queries.overview(Filters()), 3)
    print(f"    overview/KPIs          {median:7.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
