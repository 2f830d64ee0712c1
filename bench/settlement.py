"""Benchmark the engineers' statements: a month's statements for 200 engineers over 20,000 verified visits.

    export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_settle_bench
    python bench/settlement.py --generate
    python bench/settlement.py

--generate fills the database with bench/generate.py (drops every table), then gives the resolved visits repair
items (one to three each, from a catalog per product category) and approves 20,000 of them in one month. The run
makes (and remakes) the draft statements of that month for every engineer, committed, and prints the median and
worst of --runs beside the target (the worst under 2 s on PostgreSQL).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PERIOD = "2026-10"
TARGET_MS = 2000

# Approve each chosen visit at some moment of the month (site time, +08:00), items by the visit's id.
SETTLE_SQL = [
    """
    INSERT INTO repair_items (category, code, name_zh, name_en, standard_hours, pricing, fixed_price,
                              reimbursable, active, created_at, updated_at, version)
    SELECT c.category, 'R' || lpad(n::text, 2, '0'), '维修项目' || n, 'Repair item ' || n,
           0.25 * (1 + n % 6), CASE WHEN n % 4 = 0 THEN 'fixed' ELSE 'hourly' END,
           CASE WHEN n % 4 = 0 THEN 60 + 10 * n ELSE NULL END, n % 3 = 0, true, now(), now(), 1
    FROM (SELECT DISTINCT category FROM products) c CROSS JOIN generate_series(1, 12) n
    """,
    """
    CREATE TEMP TABLE chosen AS
    SELECT v.id, v.request_id, v.engineer_id, row_number() OVER (ORDER BY v.id) AS k
    FROM visits v WHERE v.outcome = 'resolved' ORDER BY v.id LIMIT :visits
    """,
    """
    INSERT INTO visit_items (visit_id, repair_item_id, quantity, standard_hours, pricing, fixed_price)
    SELECT ch.id, ri.id, 1 + (ch.k % 2), ri.standard_hours, ri.pricing, ri.fixed_price
    FROM chosen ch
    JOIN service_requests sr ON sr.id = ch.request_id
    JOIN products p ON p.id = sr.product_id
    JOIN repair_items ri ON ri.category = p.category
        AND ri.code IN ('R' || lpad((1 + ch.k % 12)::text, 2, '0'), 'R' || lpad((1 + (ch.k * 7) % 12)::text, 2, '0'))
    """,
    """
    INSERT INTO visit_verifications (visit_id, request_id, engineer_id, status, overrun, rounds, submitted_at,
                                     decided_at, version)
    SELECT ch.id, ch.request_id, ch.engineer_id, 'approved', false, 1,
           timestamp '2026-09-30 16:00:00' + (ch.k % 2600) * interval '17 minutes',
           timestamp '2026-09-30 16:00:00' + (ch.k % 2600) * interval '17 minutes' + interval '1 hour', 1
    FROM chosen ch
    """,
]


def _settle(db, visits: int) -> None:
    for statement in SETTLE_SQL:
        db.session.execute(db.text(statement), {"visits": visits} if ":visits" in statement else {})
    db.session.commit()
    # As bench/generate.py does after its bulk load (autovacuum would, a minute later): planner statistics for
    # the rows just written, or the first builds plan for empty tables.
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generate", action="store_true", help="run bench/generate.py --reset first")
    parser.add_argument("--visits", type=int, default=20_000)
    parser.add_argument("--engineers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL"):
        parser.error("set DATABASE_URL, e.g. postgresql://postgres@127.0.0.1:5432/fs_settle_bench")
    if args.generate:
        from bench import generate

        # A resolved visit for most requests: a third more requests than visits wanted is enough.
        requests = str(args.visits * 4 // 3)
        if generate.main(
            ["--reset", "--requests", requests, "--engineers", str(args.engineers), "--customers", "5000"]
        ):
            return 1

    import sqlalchemy as sa

    from fieldservice import create_app
    from fieldservice.extensions import db
    from fieldservice.settlement import operations as ops

    app = create_app({"SECRET_KEY": "bench-secret", "REDIS_URL": None})
    with app.test_request_context("/?lang=zh_Hans"), app.app_context():
        if args.generate:
            _settle(db, args.visits)
        verified = db.session.scalar(db.text("SELECT count(*) FROM visit_verifications WHERE status = 'approved'"))
        engineers = db.session.scalar(db.text("SELECT count(DISTINCT engineer_id) FROM visit_verifications"))
        # What a web process does once at its first request (not part of a build): configure every mapper.
        sa.orm.configure_mappers()
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            drafts = ops.build_statements(PERIOD, None)
            db.session.commit()
            times.append((time.perf_counter() - started) * 1000)
        lines = db.session.scalar(db.text("SELECT count(*) FROM engineer_statement_lines"))
        total = db.session.scalar(db.text("SELECT sum(total) FROM engineer_statements"))
        median, worst = statistics.median(times), max(times)
        print(
            f"{db.engine.dialect.name}: {verified:,} verified visits of {engineers} engineers;"
            f" {len(drafts)} statements, {lines:,} lines, total ¥{total}"
        )
        verdict = "ok" if worst < TARGET_MS else "OVER"
        print(
            f"  statements of {PERIOD}: median {median:7.1f} ms  worst {worst:7.1f} ms"
            f"  (target < {TARGET_MS} ms: {verdict})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
