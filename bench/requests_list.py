"""Benchmark the request loop on a generated data set: the dispatch list and filters, intake, the sweep.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_req_bench python bench/generate.py --reset
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_req_bench python bench/requests_list.py

The dispatch list (`GET /api/v1/requests?status=awaiting_assignment`, 50 a page, by due time) and intake
(`POST /api/v1/requests`) run through the whole app (auth, permissions, argument parsing, the operation, the
schema) beside a bare Flask + SQLAlchemy endpoint doing the same query or insert in the same run; the ratio is
bare time / app time (1.0: the app costs nothing on top; target at least 0.5). Targets: list p95 under 30 ms.
The sweep is timed as the minute job finds it (nothing due: the usual case) and with a backlog due, the latter
inside a transaction that is rolled back, leaving the data unchanged. Intake adds its requests.
"""

import argparse
import logging
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402

LIST_SQL = sa.text(
    "SELECT r.id, r.number, r.status, r.version, r.priority, r.problem_type, r.description, r.required_by,"
    " r.response_due, r.resolution_due, r.engineer_id, r.visit_count, r.customer_id, c.name AS customer_name,"
    " c.phone AS customer_phone, c.zone AS customer_zone"
    " FROM service_requests r JOIN customers c ON c.id = r.customer_id"
    " WHERE r.status = :status ORDER BY r.required_by, r.id LIMIT :limit OFFSET :offset"
)
COUNT_SQL = sa.text("SELECT count(*) FROM service_requests WHERE status = :status")


def bare_app(url: str) -> Flask:
    """The same list query and the same intake insert with nothing around them: the floor to compare with."""
    from fieldservice.config import _normalise_db_url

    engine = sa.create_engine(_normalise_db_url(url), pool_size=5)
    app = Flask("bare")

    @app.get("/requests")
    def list_requests():
        status = request.args.get("status", "awaiting_assignment")
        with engine.connect() as conn:
            total = conn.execute(COUNT_SQL, {"status": status}).scalar_one()
            rows = conn.execute(LIST_SQL, {"status": status, "limit": 50, "offset": 0}).mappings().all()
        items = [
            {
                **{k: v for k, v in row.items() if not k.startswith("customer_")},
                "customer": {
                    "name": row["customer_name"],
                    "phone": row["customer_phone"],
                    "zone": row["customer_zone"],
                },
                **{k: row[k].isoformat() for k in ("required_by", "response_due", "resolution_due")},
            }
            for row in rows
        ]
        return jsonify({"items": items, "total": total})

    @app.post("/requests")
    def create_request():
        body = request.get_json()
        with engine.begin() as conn:
            day = time.strftime("%Y%m%d")
            n = conn.execute(
                sa.text(
                    "INSERT INTO request_number_counters (day, last) VALUES (:day, 1) ON CONFLICT (day)"
                    " DO UPDATE SET last = request_number_counters.last + 1 RETURNING last"
                ),
                {"day": day},
            ).scalar_one()
            new_id = conn.execute(
                sa.text(
                    "INSERT INTO service_requests (number, customer_id, product_id, service_category,"
                    " problem_type,"
                    " description, priority, channel, required_by, response_due, resolution_due, status,"
                    " deadline_swept, visit_count, unsolved_visit_count, urged, urge_count,"
                    " response_breached,"
                    " resolution_breached, coverage, version, created_at, updated_at)"
                    " VALUES (:number, :customer_id, :product_id, 'bench', :problem_type, :description,"
                    " :priority,"
                    " 'phone', now() + interval '1 day', now() + interval '24 hours',"
                    " now() + interval '72 hours',"
                    " 'awaiting_assignment', false, 0, 0, false, 0, false, false, 'none', 1, now(), now())"
                    " RETURNING id"
                ),
                {
                    "number": f"SR-{day}-B{n:06d}",
                    **{
                        k: body[k]
                        for k in ("customer_id", "product_id", "problem_type", "description", "priority")
                    },
                },
            ).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO request_events (request_id, at, actor_label, action, to_status)"
                    " VALUES (:id, now(), 'bench', 'create', 'awaiting_assignment')"
                ),
                {"id": new_id},
            )
        return jsonify({"id": new_id, "status": "awaiting_assignment"}), 201

    return app


def timed(call, n: int) -> list[float]:
    """Milliseconds of *n* calls of *call* (each must succeed), after a short warm-up."""
    for _ in range(min(10, n)):
        call()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def line(name: str, values: list[float]) -> str:
    return f"  {name:<44} p50 {statistics.median(values):7.2f} ms   p95 {p95(values):7.2f} ms"


def check(response, status: int):
    if response.status_code != status:
        raise SystemExit(
            f"{response.request.path}: {response.status_code} {response.get_data(as_text=True)[:300]}"
        )
    return response


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="calls per timing")
    parser.add_argument("--intake", type=int, default=100, help="requests to log for the intake timing")
    args = parser.parse_args(argv)
    # Every write logs who did it; thousands of lines would drown the figures.
    logging.disable(logging.INFO)
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("set DATABASE_URL to a database filled by bench/generate.py")

    from fieldservice import create_app
    from fieldservice.auth.models import User
    from fieldservice.auth.operations import issue_token
    from fieldservice.core.models import utcnow
    from fieldservice.customers.models import Customer, Product
    from fieldservice.extensions import db
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType, ServiceRequest

    # With REDIS_URL the jobs other domains queue on intake (notifications...) go to rq as in production, and
    # are dropped at the end; without it they run inline inside each timed call.
    redis_url = os.environ.get("REDIS_URL")
    app = create_app(
        {
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench",
            "TESTING": False,
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRequest))
        if not total:
            raise SystemExit("no service requests: run bench/generate.py first")
        user = db.session.scalar(sa.select(User).where(User.username == "bench-dispatcher"))
        token = issue_token(user)
        customer_ids = db.session.scalars(sa.select(Customer.id).order_by(Customer.id).limit(500)).all()
        product_id = db.session.scalar(sa.select(Product.id).limit(1))
        problem = db.session.scalar(sa.select(ProblemType.code).where(ProblemType.active).limit(1))
        zone = db.session.scalar(sa.select(Customer.zone).limit(1))
        engineer_id = db.session.scalar(
            sa.select(ServiceRequest.engineer_id).where(ServiceRequest.status == "assigned").limit(1)
        )
        by_status = dict(
            db.session.execute(
                sa.select(ServiceRequest.status, sa.func.count()).group_by(ServiceRequest.status)
            ).all()
        )
    print(
        f"{url.split('://')[0]}: {total:,} requests: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(by_status.items()))
    )

    client, bare = app.test_client(), bare_app(url).test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def app_get(path):
        return lambda: check(client.get(path, headers=headers), 200)

    print("dispatch list: status=awaiting_assignment, 50 a page, by due time")
    app_list = timed(app_get("/api/v1/requests?status=awaiting_assignment&per_page=50&sort=due"), args.n)
    bare_list = timed(lambda: check(bare.get("/requests?status=awaiting_assignment"), 200), args.n)
    print(line("app  GET /api/v1/requests", app_list))
    print(line("bare GET /requests (same query)", bare_list))
    print(
        f"  ratio bare/app (p50) {statistics.median(bare_list) / statistics.median(app_list):.2f}   "
        f"target: app p95 < 30 ms -> {'met' if p95(app_list) < 30 else 'NOT met'}"
    )

    print("filters (app, 50 a page)")
    for name, path in [
        ("all statuses, by due time", "/api/v1/requests?per_page=50"),
        ("overdue", "/api/v1/requests?overdue=true&per_page=50"),
        ("locked", "/api/v1/requests?status=locked&per_page=50"),
        (f"zone {zone}", f"/api/v1/requests?zone={zone}&status=awaiting_assignment&per_page=50"),
        ("engineer's assigned", f"/api/v1/requests?engineer_id={engineer_id}&status=assigned&per_page=50"),
        ("priority 1, newest first", "/api/v1/requests?priority=1&sort=-created&per_page=50"),
        ("q = customer phone prefix 139", "/api/v1/requests?q=139&per_page=50"),
    ]:
        print(line(name, timed(app_get(path), max(20, args.n // 4))))

    print(f"intake: {args.intake} requests each way")
    i = iter(range(10**9))
    required = (utcnow() + timedelta(days=2)).isoformat()

    def body():
        return {
            "customer_id": customer_ids[next(i) % len(customer_ids)],
            "product_id": product_id,
            "problem_type": problem,
            "description": "基准测试：设备不制冷",
            "priority": 3,
            "required_by": required,
        }

    app_intake = timed(
        lambda: check(client.post("/api/v1/requests", json=body(), headers=headers), 201), args.intake
    )
    bare_intake = timed(lambda: check(bare.post("/requests", json=body()), 201), args.intake)
    print(line("app  POST /api/v1/requests", app_intake))
    print(line("bare POST /requests (same inserts)", bare_intake))
    print(f"  ratio bare/app (p50) {statistics.median(bare_intake) / statistics.median(app_intake):.2f}")

    print("sweep (the minute job)")
    with app.app_context():
        ops.sweep_requests(utcnow())
        db.session.commit()
        idle = timed(lambda: ops.sweep_requests(utcnow()), 20)
        print(line("nothing due (idempotent re-run)", idle))
        for hours in (6, 48):
            start = time.perf_counter()
            changed = ops.sweep_requests(utcnow() + timedelta(hours=hours))
            elapsed = (time.perf_counter() - start) * 1000
            db.session.rollback()
            print(f"  backlog {hours:>2} h ahead: {changed:>6,} changes in {elapsed:8.1f} ms (rolled back)")
        if db.engine.dialect.name == "postgresql":
            plan = (
                db.session.execute(
                    sa.text(
                        "EXPLAIN SELECT id FROM service_requests WHERE status = 'awaiting_assignment'"
                        " AND required_by <= now() AND NOT deadline_swept"
                    )
                )
                .scalars()
                .all()
            )
            print("  plan of the lock rule's query: " + plan[0].strip())
        if redis_url:
            from fieldservice.core.jobs import QUEUES, get_queue

            for name in QUEUES:
                get_queue(name).empty()
    print(f"jobs: {'queued to rq (then dropped)' if redis_url else 'inline (set REDIS_URL to queue them)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
