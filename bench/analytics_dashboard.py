"""Benchmark the analytics dashboard: every figure it shows, computed on a 100,000-request history.

    export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_ana_bench
    python bench/analytics_dashboard.py --generate
    python bench/analytics_dashboard.py

--generate fills the database first with bench/generate.py (drops every table). Prints the time of the whole
dashboard (median and worst of --runs) unfiltered, for one zone and for the last 30 days; target < 500 ms.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

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
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL"):
        parser.error("set DATABASE_URL, e.g. postgresql://postgres@127.0.0.1:5432/fs_ana_bench")
    if args.generate:
        from bench import generate

        if generate.main(["--reset", "--requests", str(args.requests)]):
            return 1

    from fieldservice import create_app
    from fieldservice.analytics import queries
    from fieldservice.analytics.filters import Filters
    from fieldservice.extensions import db

    app = create_app({"SECRET_KEY": "bench-secret", "REDIS_URL": None})
    with app.test_request_context("/?lang=zh_Hans"), app.app_context():
        db.create_all()  # the tables of domains newer than the generated data (complaints...), empty
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
        for name, filters in cases.items():
            queries.dashboard(filters)  # warm the caches once, as a running server has them
            median, worst = _time(lambda f=filters: queries.dashboard(f), args.runs)
            print(f"  dashboard, {name:24} median {median:7.1f} ms  worst {worst:7.1f} ms")
        for spec in queries.TABLES.values():
            median, _ = _time(lambda s=spec: s.rows(Filters()), 3)
            print(f"    table {spec.name:16} {median:7.1f} ms")
        median, _ = _time(lambda: queries.overview(Filters()), 3)
        print(f"    overview/KPIs          {median:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
