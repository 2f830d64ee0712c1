"""Benchmark the engineers' sync: a queue of ops (visits and status steps over many jobs) applied through
POST /api/v1/sync, then the same queue replayed (all duplicates). Targets (issue 26, on PostgreSQL):
500 ops over 100 jobs applied in under 1.3 s (issue 5 measured 2.57 s), the replay in under 0.1 s. The rows
the apply phase wrote are then written again with bare SQL in the same run (and rolled back): the ratio of the
two times says what the app's rules, ORM and savepoints cost on top of the writes themselves.

    createdb -h 127.0.0.1 -U postgres fs_sync_bench
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_sync_bench REDIS_URL=redis://127.0.0.1:6379/4 \
        python bench/sync_replay.py --jobs 100          # 500 ops
    ... python bench/sync_replay.py --jobs 200          # 1,000 ops

Each job gets accept, depart, arrive, a note and a resolved visit (costs and a signature): five ops. The
reports domain renders a PDF for every visit in a job; with REDIS_URL set those jobs go to rq (the queue
is emptied at the end) so the figure is the sync's own; without it they run inline and are timed too.
The database's tables are dropped and re-created: give it a database of its own.
"""

import argparse
import base64
import cProfile
import io
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def signature() -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (400, 140), "white")
    ImageDraw.Draw(image).line([(10, 120), (120, 30), (220, 110), (390, 20)], fill="black", width=5)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def build_jobs(db, n_jobs: int):
    """One engineer with *n_jobs* assigned jobs, logged and assigned through the request operations."""
    from fieldservice.auth.operations import create_user
    from fieldservice.core.models import utcnow
    from fieldservice.customers import operations as customers
    from fieldservice.engineers.models import Engineer, EngineerSkill
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    admin = create_user("bench-admin", "bench-password", "admin")
    dispatcher = create_user("bench-dispatcher", "bench-password", "dispatcher")
    user = create_user("bench-eng", "bench-password", "engineer", name="王师傅")
    engineer = Engineer(
        user_id=user.id,
        name="王师傅",
        zone="浦东",
        lat=31.2,
        lng=121.5,
        max_open_jobs=n_jobs,
        skills=[EngineerSkill(category="water_purifier")],
    )
    db.session.add_all(
        [engineer, ProblemType(code="no_water", name_zh="不出水", name_en="No water", category="repair")]
    )
    product = customers.create_product({"name": "商用净水器", "model": "RO-BENCH", "category": "water_purifier"}, admin)
    start = utcnow() - timedelta(hours=2)
    jobs = []
    for i in range(n_jobs):
        customer = customers.create_customer(
            {
                "name": f"杭州客户{i}",
                "phone": f"1390000{i:04d}",
                "address": f"杭州市西湖区文三路 {i} 号",
                "zone": "西湖",
            },
            admin,
        )
        unit = customers.create_equipment(
            {"customer_id": customer.id, "product_id": product.id, "serial_number": f"RO-BENCH-{i:05d}"},
            admin,
        )
        sr = ops.create_request(
            {
                "customer_id": customer.id,
                "equipment_id": unit.id,
                "problem_type": "no_water",
                "priority": 3,
                "description": "净水器不出水，指示灯闪烁",
                "required_by": utcnow() + timedelta(days=2),
            },
            dispatcher,
            now=start,
        )
        db.session.flush()
        ops.perform(sr, "assign", dispatcher, None, engineer_id=engineer.id, now=start)
        jobs.append(sr.id)
    db.session.commit()
    return user, jobs


def queue_for(jobs: list[int]) -> list[dict]:
    """The phone's outbox after a day offline: each job's steps in order, jobs interleaved as the day went."""
    from fieldservice.core.models import utcnow

    now = utcnow()
    sig = signature()
    visit = {
        "outcome": "resolved",
        "arrived_at": (now - timedelta(minutes=50)).isoformat(),
        "finished_at": (now - timedelta(minutes=5)).isoformat(),
        "labour_hours": 1.5,
        "fault": "不出水",
        "cause": "进水电磁阀线圈烧毁",
        "solution": "更换进水电磁阀，试机正常",
        "costs": [{"kind": "travel", "amount": "30.00"}, {"kind": "fee", "amount": "80.00"}],
        "signature": sig,
    }
    steps = [
        ("accept", {}),
        ("depart", {}),
        ("arrive", {}),
        ("note", {"note": "客户在场，已说明故障"}),
        ("record_visit", visit),
    ]
    queue = []
    for kind, payload in steps:
        for job_id in jobs:
            queue.append(
                {
                    "op_id": str(uuid.uuid4()),
                    "type": kind,
                    "request_id": job_id,
                    "payload": payload,
                    "client_time": now.isoformat(),
                }
            )
    # Interleave per job (a day's real order): job 1's steps, then job 2's...
    queue.sort(key=lambda op: (jobs.index(op["request_id"]), [s for s, _ in steps].index(op["type"])))
    return queue


ROOT = str(Path(__file__).resolve().parent.parent / "fieldservice")


def _caller() -> str:
    """The innermost fieldservice function that issued the query, with the sync function above it."""
    inner = sync = None
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(ROOT):
            inner = inner or frame
            if "/sync/" in filename:
                sync = frame
                break
        frame = frame.f_back
    if inner is None:
        return "(outside fieldservice)"
    label = f"{inner.f_code.co_filename[len(ROOT) + 1 :]}:{inner.f_code.co_name}"
    if sync is not None and sync is not inner:
        label += f"  <- sync:{sync.f_code.co_name}"
    return label


@contextmanager
def count_flushes():
    """Count the ORM flushes that wrote something in the block (one unit of work each, whatever its statements)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    flushes = [0]

    def after_flush(session, context):
        flushes[0] += 1

    sa.event.listen(Session, "after_flush", after_flush)
    try:
        yield flushes
    finally:
        sa.event.remove(Session, "after_flush", after_flush)


@contextmanager
def count_queries(engine):
    """Count the statements sent to the database in the block, and their time, by who sent them."""
    import sqlalchemy as sa

    counts: Counter = Counter()
    seconds: Counter = Counter()

    def before(conn, cursor, statement, parameters, context, executemany):
        label = _caller()
        if statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            # Emitted lazily by the first statement inside begin_nested(): name it apart from that statement.
            label = "[savepoint/release] " + label
        conn.info["bench_query"] = (label, time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):
        label, started = conn.info.pop("bench_query")
        counts[label] += 1
        seconds[label] += time.perf_counter() - started

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield counts, seconds
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


def print_queries(title: str, measured, n_ops: int, total_s: float, top: int) -> None:
    counts, seconds = measured
    total = sum(counts.values())
    in_db = sum(seconds.values())
    print(
        f"{title}: {total} queries, {total / n_ops:.1f} per op; {in_db:.2f} s waiting on the database,"
        f" {total_s - in_db:.2f} s in Python"
    )
    print("   count  per op  db ms  source (innermost fieldservice function <- sync function above it)")
    for label, count in counts.most_common(top):
        print(f"  {count:6d}  {count / n_ops:5.2f}  {seconds[label] * 1000:6.0f}  {label}")


def snapshot(db) -> dict:
    """Each table's rows by primary key before the apply phase: what is not in it afterwards, the phase wrote."""
    import sqlalchemy as sa

    keys = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            keys[table.name] = set(conn.execute(sa.select(*pk)).all()) if pk else None
    return keys


def bare_writes(db, before: dict, request_ids: list[int]) -> tuple[float, int]:
    """The rows the apply phase wrote, written again with bare SQL: in one transaction, the new rows deleted
    (not timed), then inserted again table by table (one executemany each) and the requests updated to their
    state now (one executemany), timed; then rolled back. Returns the seconds and the rows written."""
    import sqlalchemy as sa

    new_rows = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            if before.get(table.name) is None:
                continue
            rows = [
                row._asdict()
                for row in conn.execute(sa.select(table))
                if tuple(row._mapping[c.name] for c in pk) not in before[table.name]
            ]
            if rows:
                new_rows[table] = rows
        requests_table = db.metadata.tables["service_requests"]
        requests = [
            r._asdict() for r in conn.execute(sa.select(requests_table).where(requests_table.c.id.in_(request_ids)))
        ]
        # The reads above began the transaction the writes below run in; it is rolled back.
        for table in reversed(list(new_rows)):
            pk = list(table.primary_key.columns)
            conn.execute(
                table.delete().where(sa.tuple_(*pk).in_([tuple(r[c.name] for c in pk) for r in new_rows[table]]))
            )
        started = time.perf_counter()
        for table, rows in new_rows.items():
            conn.execute(table.insert(), rows)
        update = (
            requests_table.update()
            .where(requests_table.c.id == sa.bindparam("b_id"))
            .values({c.name: sa.bindparam(f"b_{c.name}") for c in requests_table.columns if c.name != "id"})
        )
        conn.execute(update, [{f"b_{k}": v for k, v in r.items()} for r in requests])
        seconds = time.perf_counter() - started
        conn.rollback()
    return seconds, sum(len(rows) for rows in new_rows.values()) + len(requests)


def send(client, token: str, queue: list[dict], batch: int) -> list[dict]:
    results = []
    for start in range(0, len(queue), batch):
        response = client.post(
            "/api/v1/sync",
            json={"ops": queue[start : start + batch]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.json
        results.extend(response.json["results"])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs; five ops each")
    parser.add_argument("--batch", type=int, default=50, help="ops per POST (the PWA sends 50)")
    parser.add_argument("--top", type=int, default=25, help="query sources listed per phase")
    parser.add_argument("--profile", help="write a cProfile of the apply phase to this file (the replay's: .replay)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    redis_url = os.environ.get("REDIS_URL")
    from fieldservice import create_app
    from fieldservice.extensions import db

    app = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url, "SECRET_KEY": "bench", "TESTING": False})
    with app.app_context():
        db.drop_all()
        db.create_all()
        from fieldservice.auth.operations import issue_token

        user, jobs = build_jobs(db, args.jobs)
        token = issue_token(user)
        db.session.commit()
        queue = queue_for(jobs)
        client = app.test_client()

        before = snapshot(db)
        with count_queries(db.engine) as apply_queries, count_flushes() as apply_flushes:
            profiler = cProfile.Profile() if args.profile else None
            started, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            first = send(client, token, queue, args.batch)
            applied_s, applied_cpu = time.perf_counter() - started, time.process_time() - cpu
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
        with count_queries(db.engine) as replay_queries:
            profiler = cProfile.Profile() if args.profile else None
            started, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            again = send(client, token, queue, args.batch)
            replay_s, replay_cpu = time.perf_counter() - started, time.process_time() - cpu
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile + ".replay")

        bare_s, bare_rows = bare_writes(db, before, jobs)
        applied = sum(r["status"] == "applied" for r in first)
        duplicates = sum(r["status"] == "duplicate" for r in again)
        rejected = [r for r in first if r["status"] == "rejected"]
        assert not rejected, rejected[:3]
        assert duplicates == len(queue), duplicates
        if redis_url:
            from fieldservice.core.jobs import redis_connection

            redis_connection().flushdb()
        db.session.remove()
        db.drop_all()

    n = len(queue)
    print(f"database: {url.split('://')[0]}; jobs {'to rq' if redis_url else 'inline (PDF rendering included)'}")
    print(f"{n} ops over {len(jobs)} jobs in batches of {args.batch}")
    print(
        f"apply:  {applied_s:.2f} s ({applied} applied, {applied_s / n * 1000:.2f} ms/op;"
        f" {applied_cpu:.2f} s on this process's CPU)"
        + (" (target < 1.3 s for 500 ops; was 2.57 s)" if n == 500 else "")
    )
    print(
        f"replay: {replay_s:.2f} s ({duplicates} duplicates, {replay_s / n * 1000:.2f} ms/op;"
        f" {replay_cpu:.2f} s on this process's CPU)" + (" (target < 0.1 s for 500 ops)" if n == 500 else "")
    )
    print(
        f"bare:   {bare_s:.2f} s for the same {bare_rows} rows written with bare SQL (one executemany a table);"
        f" apply / bare = {applied_s / bare_s:.1f}"
    )
    print(f"apply:  {apply_flushes[0]} ORM flushes, {apply_flushes[0] / n:.1f} per op")
    print_queries("apply", apply_queries, n, applied_s, args.top)
    print_queries("replay", replay_queries, n, replay_s, args.top)


if __name__ == "__main__":
    main()
