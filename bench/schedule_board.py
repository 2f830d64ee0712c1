"""Benchmark the schedule board's data: GET /api/v1/schedule for one day, 500 engineers, 4,000 appointments.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_schedule_bench python bench/schedule_board.py --reset

--reset (or an empty database) builds the data set: 500 engineers with their logins, 2,000 customers around
Shanghai, 4,500 requests (4,000 assigned with a booked appointment spread over four working days, two or three
per engineer a day; 500 waiting for an engineer) and some leave. Then the endpoint runs through the whole app
(bearer token, permission, argument parsing, the queries, the shifts worked out per engineer, JSON) beside a
bare query of the same rows (the engineers, their leave, the day's appointments with their request and customer,
the unscheduled requests) run with plain SQL and dumped to JSON, called in turn in the same run. Prints p50 and
p95 of each and the ratio bare / app (1.0: the app costs nothing on top). Target: app p95 under 150 ms.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

ENGINEERS = 500
CUSTOMERS = 2000
APPOINTMENTS = 4000
WAITING = 500
DAYS = 4
ROUNDS = 60

BARE_SQL = {
    "engineers": sa.text(
        "SELECT id, name, zone, lat, lng, work_start, work_end, work_days FROM engineers WHERE active ORDER BY name, id"
    ),
    "leave": sa.text(
        "SELECT engineer_id, starts_at, ends_at FROM engineer_leaves WHERE starts_at < :end AND ends_at > :start"
        " ORDER BY starts_at"
    ),
    "appointments": sa.text(
        "SELECT a.engineer_id, a.request_id, r.number, a.starts_at, a.ends_at, a.status, c.name, c.lat, c.lng"
        " FROM appointments a JOIN service_requests r ON r.id = a.request_id"
        " JOIN customers c ON c.id = r.customer_id"
        " WHERE a.status IN ('booked', 'kept', 'missed') AND a.starts_at < :end AND a.ends_at > :start"
        " ORDER BY a.starts_at"
    ),
    "unscheduled": sa.text(
        "SELECT r.*, c.name AS customer_name FROM service_requests r JOIN customers c ON c.id = r.customer_id"
        " WHERE r.status IN ('awaiting_assignment', 'locked', 'assigned') AND NOT EXISTS"
        " (SELECT 1 FROM appointments a WHERE a.request_id = r.id AND a.status = 'booked')"
        " ORDER BY r.required_by, r.id LIMIT 200"
    ),
}


def _working_days(first: date, n: int) -> list[date]:
    days, day = [], first
    while len(days) < n:
        if day.isoweekday() <= 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def generate(app, first: date) -> None:
    from fieldservice.auth.models import User
    from fieldservice.core.clock import site_zone
    from fieldservice.extensions import db

    rng = random.Random(22)
    zone = site_zone()
    now = datetime.now(UTC)
    db.drop_all()
    db.create_all()
    conn = db.session.connection()
    password = User(username="x", role="engineer")
    password.set_password("bench-password")
    users = [
        {
            "username": f"eng{i:03d}",
            "name": f"工程师{i:03d}",
            "role": "engineer",
            "password_hash": password.password_hash,
        }
        for i in range(ENGINEERS)
    ] + [
        {"username": "bench-dispatcher", "name": "调度", "role": "dispatcher", "password_hash": password.password_hash}
    ]
    conn.execute(
        sa.insert(User.__table__),
        [
            u | {"active": True, "token_generation": 1, "created_at": now, "updated_at": now, "version": 1}
            for u in users
        ],
    )
    user_ids = dict(conn.execute(sa.text("SELECT username, id FROM users")).all())
    zones = ["浦东", "徐汇", "静安", "闵行", "宝山", "杨浦"]
    engineers_table = sa.table(
        "engineers",
        *(
            sa.column(c)
            for c in (
                "user_id",
                "name",
                "zone",
                "lat",
                "lng",
                "max_open_jobs",
                "work_start",
                "work_end",
                "work_days",
                "active",
                "created_at",
                "updated_at",
                "version",
            )
        ),
    )
    conn.execute(
        engineers_table.insert(),
        [
            {
                "user_id": user_ids[f"eng{i:03d}"],
                "name": f"工程师{i:03d}",
                "zone": zones[i % len(zones)],
                "lat": 31.2 + rng.uniform(-0.2, 0.2),
                "lng": 121.5 + rng.uniform(-0.2, 0.2),
                "max_open_jobs": 20,
                "work_start": dtime(8, 0),
                "work_end": dtime(18, 0),
                "work_days": "1,2,3,4,5",
                "active": True,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for i in range(ENGINEERS)
        ],
    )
    engineer_ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM engineers ORDER BY id"))]
    customers = sa.table(
        "customers",
        *(
            sa.column(c)
            for c in ("name", "phone", "address", "zone", "lat", "lng", "created_at", "updated_at", "version")
        ),
    )
    conn.execute(
        customers.insert(),
        [
            {
                "name": f"客户{i}",
                "phone": f"139{i:08d}",
                "address": f"上海市{zones[i % 6]}区{i}号",
                "zone": zones[i % 6],
                "lat": 31.2 + rng.uniform(-0.3, 0.3),
                "lng": 121.5 + rng.uniform(-0.3, 0.3),
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for i in range(CUSTOMERS)
        ],
    )
    customer_ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM customers ORDER BY id"))]
    requests = sa.table(
        "service_requests",
        *(
            sa.column(c)
            for c in (
                "number",
                "customer_id",
                "service_category",
                "problem_type",
                "description",
                "priority",
                "channel",
                "required_by",
                "response_due",
                "resolution_due",
                "status",
                "engineer_id",
                "assigned_at",
                "deadline_swept",
                "visit_count",
                "unsolved_visit_count",
                "urged",
                "urge_count",
                "response_breached",
                "resolution_breached",
                "coverage",
                "created_at",
                "updated_at",
                "version",
            )
        ),
    )
    days = _working_days(first, DAYS)
    slots = [(8, 0), (10, 0), (13, 0), (15, 30)]
    planned = []  # (engineer_id, start, end): each engineer's slots in turn, never overlapping
    for n in range(APPOINTMENTS):
        engineer_id = engineer_ids[n % ENGINEERS]
        day = days[(n // ENGINEERS) % DAYS]
        hour, minute = slots[(n // (ENGINEERS * DAYS)) % len(slots)]
        start = datetime.combine(day, dtime(hour, minute), tzinfo=zone)
        planned.append((engineer_id, start.astimezone(UTC), (start + timedelta(hours=1, minutes=30)).astimezone(UTC)))
    rows = []
    for n in range(APPOINTMENTS + WAITING):
        assigned = n < APPOINTMENTS
        rows.append(
            {
                "number": f"SR-BENCH-{n:06d}",
                "customer_id": rng.choice(customer_ids),
                "service_category": "air_conditioner",
                "problem_type": "no_cooling",
                "description": "空调不制冷",
                "priority": 3,
                "channel": "phone",
                "required_by": now + timedelta(days=10),
                "response_due": now + timedelta(days=3),
                "resolution_due": now + timedelta(days=7),
                "status": "assigned" if assigned else "awaiting_assignment",
                "engineer_id": planned[n][0] if assigned else None,
                "assigned_at": now if assigned else None,
                "deadline_swept": False,
                "visit_count": 0,
                "unsolved_visit_count": 0,
                "urged": False,
                "urge_count": 0,
                "response_breached": False,
                "resolution_breached": False,
                "coverage": "none",
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    conn.execute(requests.insert(), rows)
    request_ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM service_requests ORDER BY id"))]
    appointments = sa.table(
        "appointments",
        *(
            sa.column(c)
            for c in (
                "request_id",
                "engineer_id",
                "starts_at",
                "ends_at",
                "status",
                "reschedules",
                "created_at",
                "version",
            )
        ),
    )
    conn.execute(
        appointments.insert(),
        [
            {
                "request_id": request_ids[n],
                "engineer_id": e,
                "starts_at": s,
                "ends_at": t,
                "status": "booked",
                "reschedules": 0,
                "created_at": now,
                "version": 1,
            }
            for n, (e, s, t) in enumerate(planned)
        ],
    )
    leaves = sa.table(
        "engineer_leaves",
        *(sa.column(c) for c in ("engineer_id", "starts_at", "ends_at", "reason", "created_at", "updated_at")),
    )
    conn.execute(
        leaves.insert(),
        [
            {
                "engineer_id": e,
                "starts_at": datetime.combine(days[0], dtime(12), tzinfo=zone),
                "ends_at": datetime.combine(days[0], dtime(18), tzinfo=zone),
                "reason": "培训",
                "created_at": now,
                "updated_at": now,
            }
            for e in engineer_ids[::25]
        ],
    )
    db.session.commit()
    conn = db.session.connection()
    conn.execute(sa.text("ANALYZE"))
    db.session.commit()


def bare(engine, start: datetime, end: datetime) -> bytes:
    """The same rows with plain SQL, dumped to JSON: what any endpoint pays at least."""
    with engine.connect() as conn:
        out = {
            name: [dict(row._mapping) for row in conn.execute(sql, {"start": start, "end": end})]
            for name, sql in BARE_SQL.items()
        }
    return json.dumps(out, default=str).encode()


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reset", action="store_true", help="build the data set afresh")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own (it is emptied by --reset).")

    from fieldservice import create_app
    from fieldservice.appointments.schedule import day_bounds
    from fieldservice.auth.models import User
    from fieldservice.auth.operations import issue_token
    from fieldservice.extensions import db

    app = create_app({"DATABASE_URL": url, "REDIS_URL": None, "TESTING": True, "SECRET_KEY": "bench"})
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    today = datetime.now(UTC).date()
    first = _working_days(today + timedelta(days=1), 1)[0]
    with app.app_context():
        empty = not sa.inspect(db.engine).has_table("appointments") or not db.session.scalar(
            sa.text("SELECT count(*) FROM appointments")
        )
        db.session.rollback()  # the count's transaction would hold the tables that --reset drops
        if args.reset or empty:
            t0 = time.perf_counter()
            generate(app, first)
            print(f"generated in {time.perf_counter() - t0:.1f} s")
        token = issue_token(db.session.scalar(sa.select(User).where(User.username == "bench-dispatcher")))
        db.session.commit()  # the login is a row of its own: the requests below look it up
        counts = {t: db.session.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in ("engineers", "appointments")}
        day = first
        start, end = day_bounds(day, 1)
        engine = db.engine
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/schedule?date={day.isoformat()}"
    # Warm both up: connections, caches, the first JSON encodes.
    for _ in range(3):
        assert client.get(path, headers=headers).status_code == 200
        bare(engine, start, end)
    app_ms, bare_ms = [], []
    size = shown = 0
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        response = client.get(path, headers=headers)
        app_ms.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
        t0 = time.perf_counter()
        bare(engine, start, end)
        bare_ms.append((time.perf_counter() - t0) * 1000)
        size = len(response.data)
        shown = sum(len(e["appointments"]) for e in response.json["engineers"])
    print(
        f"data: {counts['engineers']} engineers, {counts['appointments']} appointments; day {day}: {shown} shown,"
        f" {size / 1024:.0f} KiB of JSON"
    )
    print(f"app  GET {path}: p50 {statistics.median(app_ms):.1f} ms, p95 {percentile(app_ms, 95):.1f} ms")
    print(
        f"bare same rows (SQL + JSON):           p50 {statistics.median(bare_ms):.1f} ms,"
        f" p95 {percentile(bare_ms, 95):.1f} ms"
    )
    print(
        f"ratio bare/app (p50): {statistics.median(bare_ms) / statistics.median(app_ms):.2f};"
        f" target app p95 < 150 ms: {'met' if percentile(app_ms, 95) < 150 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
