"""Benchmark GET /api/v1/sync under a mixed load: engineers pulling (first pulls and pulls since a cursor) and
pushing small batches while dispatchers read the request list, all at once against the app served by a threaded
WSGI server. Target (issue 26, on PostgreSQL): the pull's p95 under 100 ms with 20 users (was p95 370 ms,
p99 670 ms).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_sync_bench REDIS_URL=redis://127.0.0.1:6379/4 \
        python bench/sync_pull_load.py --users 20 --seconds 30 --think 1

--think 0 sends each user's next request the moment the last one answered: the one process is saturated and the
p95 is mostly the queue (20 users x the service time); --think 1 gives each user a second between requests, thirty
times the pace of a phone that syncs every 30 s.

Each engineer holds --jobs jobs (on units with earlier requests, with a knowledge base of their skill);
four users in five are engineers, each looping: a pull without cursor, three pulls since the last cursor (without
the reference data, as the app asks between its turns), a push of two notes. The others are dispatchers reading
the dispatch list. The queries of one first pull are counted and printed. The database's tables are dropped and
re-created: give it a database of its own.
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import requests as http

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_replay import count_queries, print_queries  # noqa: E402

# What customers say, in a few words each: a pull searches the knowledge base once per different problem.
DESCRIPTIONS = [
    "净水器不出水，指示灯闪烁",
    "机器底部漏水，地面有积水",
    "出水有异味，滤芯到期提醒",
    "制水时噪音很大，一直不停机",
    "显示屏报 E3 故障，无法制水",
]


def build(db, n_engineers: int, n_jobs: int):
    """Engineers with jobs assigned through the request operations, each unit with two earlier requests, and a
    knowledge base of the engineers' skill."""
    from fieldservice.auth.operations import create_user, issue_token
    from fieldservice.core.models import utcnow
    from fieldservice.customers import operations as customers
    from fieldservice.engineers.models import Engineer, EngineerSkill
    from fieldservice.knowledge import operations as knowledge
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    admin = create_user("bench-admin", "bench-password", "admin")
    dispatcher = create_user("bench-dispatcher", "bench-password", "dispatcher")
    db.session.add(ProblemType(code="no_water", name_zh="不出水", name_en="No water", category="repair"))
    product = customers.create_product({"name": "商用净水器", "model": "RO-BENCH", "category": "water_purifier"}, admin)
    for n in range(40):
        knowledge.create_entry(
            {
                "symptom": f"净水器不出水，指示灯闪烁 {n}",
                "category": "water_purifier",
                "status": "published",
                "causes": [{"description": "进水电磁阀线圈烧毁", "solutions": [{"summary": "更换进水电磁阀"}]}],
            },
            admin,
        )
    start = utcnow() - timedelta(days=30)
    tokens = []
    for e in range(n_engineers):
        user = create_user(f"bench-eng{e}", "bench-password", "engineer", name=f"师傅{e}")
        engineer = Engineer(
            user_id=user.id,
            name=f"师傅{e}",
            zone="浦东",
            lat=31.2,
            lng=121.5,
            max_open_jobs=n_jobs * 2,
            skills=[EngineerSkill(category="water_purifier")],
        )
        db.session.add(engineer)
        db.session.flush()
        for j in range(n_jobs):
            customer = customers.create_customer(
                {"name": f"客户{e}-{j}", "phone": f"139{e:04d}{j:04d}", "address": f"文三路 {j} 号", "zone": "西湖"},
                admin,
            )
            unit = customers.create_equipment(
                {"customer_id": customer.id, "product_id": product.id, "serial_number": f"RO-{e:03d}-{j:04d}"}, admin
            )
            for k in range(3):
                sr = ops.create_request(
                    {
                        "customer_id": customer.id,
                        "equipment_id": unit.id,
                        "problem_type": "no_water",
                        "priority": 3,
                        "description": DESCRIPTIONS[(j + k) % len(DESCRIPTIONS)],
                        "required_by": utcnow() + timedelta(days=2),
                    },
                    dispatcher,
                    now=start + timedelta(days=k),
                )
                db.session.flush()
                if k < 2:  # the unit's history: logged and cancelled
                    ops.perform(sr, "cancel", dispatcher, None, reason="重复报修", now=start + timedelta(days=k))
                else:
                    ops.perform(sr, "assign", dispatcher, None, engineer_id=engineer.id, now=start)
        tokens.append(issue_token(user))
    office = issue_token(dispatcher)
    db.session.commit()
    return tokens, office


class Serve(threading.Thread):
    def __init__(self, app):
        from werkzeug.serving import make_server

        super().__init__(daemon=True)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def run(self):
        self.server.serve_forever()


def engineer_loop(url, token, until, pulls, errors, job_ids, think=0.0):
    headers = {"Authorization": f"Bearer {token}"}
    session = http.Session()
    while time.perf_counter() < until:
        cursor = None
        for _ in range(4):
            started = time.perf_counter()
            # As the app asks: a pull since its cursor leaves out the reference data (it comes every few minutes).
            params = {"since": cursor, "reference": "false"} if cursor else {}
            answer = session.get(f"{url}/api/v1/sync", params=params, headers=headers)
            pulls.append(time.perf_counter() - started)
            time.sleep(think)
            if answer.status_code != 200:
                errors.append(answer.status_code)
                continue
            cursor = answer.json()["cursor"]
            job_ids.update(j["id"] for j in answer.json()["jobs"])
        if job_ids:
            job = next(iter(job_ids))
            ops = [
                {"op_id": str(uuid.uuid4()), "type": "note", "request_id": job, "payload": {"note": "已联系客户"}}
                for _ in range(2)
            ]
            answer = session.post(f"{url}/api/v1/sync", json={"ops": ops}, headers=headers)
            time.sleep(think)
            if answer.status_code != 200:
                errors.append(answer.status_code)


def dispatcher_loop(url, token, until, lists, errors, think=0.0):
    headers = {"Authorization": f"Bearer {token}"}
    session = http.Session()
    while time.perf_counter() < until:
        started = time.perf_counter()
        answer = session.get(f"{url}/api/v1/requests", params={"per_page": 50}, headers=headers)
        lists.append(time.perf_counter() - started)
        time.sleep(think)
        if answer.status_code != 200:
            errors.append(answer.status_code)


def percentile(values, p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=10, help="jobs per engineer")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds each user waits after an answer (0: back to back, the server saturated; a phone syncs every "
        "30 s, so 1 s is thirty times the pace of real engineers)",
    )
    parser.add_argument(
        "--gunicorn",
        type=int,
        default=0,
        help="serve with gunicorn and this many worker processes, as in production (default: one threaded process "
        "inside this one, which shares its interpreter lock with the simulated users)",
    )
    args = parser.parse_args()

    tmp = tempfile.mkdtemp()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    from fieldservice import create_app
    from fieldservice.extensions import db

    app = create_app(
        {
            "DATABASE_URL": url,
            "REDIS_URL": os.environ.get("REDIS_URL"),
            "SECRET_KEY": "bench",
            "TESTING": False,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": args.users + 5, "max_overflow": 10},
        }
    )
    n_engineers = max(1, args.users * 4 // 5)
    with app.app_context():
        db.drop_all()
        db.create_all()
        tokens, office = build(db, n_engineers, args.jobs)
        client = app.test_client()
        with count_queries(db.engine) as first_pull:
            started = time.perf_counter()
            answer = client.get("/api/v1/sync", headers={"Authorization": f"Bearer {tokens[0]}"})
            one_pull_s = time.perf_counter() - started
        assert answer.status_code == 200, answer.json
        n_jobs = len(answer.json["jobs"])
        db.session.remove()

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("fieldservice").setLevel(logging.WARNING)
    gunicorn = None
    if args.gunicorn:
        from load import free_port, start_gunicorn, stop, wait_healthy

        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "GUNICORN_ACCESS_LOG": "/dev/null"}
        gunicorn = start_gunicorn(args.gunicorn, port, env, Path(tmp) / "gunicorn.log")
        wait_healthy(port)
        server_url = f"http://127.0.0.1:{port}"
    else:
        server = Serve(app)
        server.start()
        server_url = server.url
    pulls, lists, errors = [], [], []
    until = time.perf_counter() + args.seconds
    threads = [
        threading.Thread(target=engineer_loop, args=(server_url, token, until, pulls, errors, set(), args.think))
        for token in tokens
    ] + [
        threading.Thread(target=dispatcher_loop, args=(server_url, office, until, lists, errors, args.think))
        for _ in range(args.users - n_engineers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if gunicorn is not None:
        stop(gunicorn)
    else:
        server.server.shutdown()
    with app.app_context():
        db.session.remove()
        db.drop_all()

    print(
        f"database: {url.split('://')[0]}; {args.users} users ({n_engineers} engineers), {args.seconds:.0f} s, "
        + (f"{args.think:g} s between one user's requests" if args.think else "back to back (saturation)")
        + (f", gunicorn with {args.gunicorn} workers" if args.gunicorn else ", one threaded process")
        + f": {(len(pulls) + len(lists)) / args.seconds:.1f} reads/s served"
    )
    print(f"one first pull alone: {one_pull_s * 1000:.0f} ms for {n_jobs} jobs")
    print_queries("first pull", first_pull, 1, one_pull_s, 12)
    ms = [v * 1000 for v in pulls]
    print(
        f"GET /api/v1/sync: {len(ms)} pulls, p50 {statistics.median(ms):.0f} ms, p95 {percentile(ms, 95):.0f} ms"
        f" (target < 100 ms; was 370 ms), p99 {percentile(ms, 99):.0f} ms (was 670 ms)"
    )
    if lists:
        ms = [v * 1000 for v in lists]
        print(f"GET /api/v1/requests beside it: {len(ms)} reads, p95 {percentile(ms, 95):.0f} ms")
    print(f"errors: {len(errors)} {sorted(set(errors))}")


if __name__ == "__main__":
    main()
