"""Load test: a realistic mix against gunicorn with 1, 2 and 4 workers (and 2 rq workers), step by step.

    export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_scale_bench REDIS_URL=redis://127.0.0.1:6379/8
    python bench/generate.py --reset                # once: 100,000 requests and the bench logins
    python bench/load.py                            # steps of 1, 2 and 4 web workers, 20 s each
    python bench/load.py --workers 1,2 --seconds 10 --clients 8

The mix, per client thread (each a person at work, sending the next request when the last has answered):
dispatchers list the waiting requests (35 %) and assign one to an engineer with the skill (15 %: they open the
request, then assign it with its version); engineers pull their jobs through the sync API with their cursor
(25 %; each phone has pulled its jobs once before the clock starts); customers open their page /r/<token> from
many addresses (20 %); callback agents open a resolved request and record the survey (5 %). Every answer must be
a success (2xx): a 409, 429 or 500 is an error.

Printed per step: requests, throughput, p50/p95/p99 (ms) and errors, overall and per kind, and each step's
throughput against the one before (adding web workers must add capacity until the cores run out). Deadlocks:
pg_stat_database's count before and after the run (0 wanted). The gunicorn workers, the rq workers and this
client share the machine: on 2 cores, 4 web workers cannot be twice 2.
"""

import argparse
import http.client
import json
import logging
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-load-secret"
PASSWORD = "bench-password"
MIX = {"list": 35, "assign": 15, "sync": 25, "customer": 20, "survey": 5}
TARGET_ERRORS = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(app, customers: int, engineers: int) -> dict:
    """What the clients work on, read (and customer links issued) before the clock starts."""
    import sqlalchemy as sa

    from fieldservice.core.models import utcnow
    from fieldservice.core.sweep import run_sweep
    from fieldservice.engineers.models import Engineer, EngineerSkill
    from fieldservice.extensions import db
    from fieldservice.reports.operations import current_token
    from fieldservice.requests.models import ServiceRequest

    with app.app_context():
        db.create_all()  # tables of domains newer than the generated data
        run_sweep()  # the time rules settled first: the run's own sweeps find little to change
        db.session.commit()
        sr = ServiceRequest
        now = utcnow()
        waiting = db.session.execute(
            sa.select(sr.id, sr.service_category)
            .where(sr.status == "awaiting_assignment", sr.required_by > now + timedelta(hours=1))
            .order_by(sr.id)
        ).all()
        skilled: dict[str, list[int]] = defaultdict(list)
        for engineer_id, category in db.session.execute(sa.select(EngineerSkill.engineer_id, EngineerSkill.category)):
            skilled[category].append(engineer_id)
        resolved = list(db.session.scalars(sa.select(sr.id).where(sr.status == "resolved").order_by(sr.id)))
        busy = db.session.execute(
            sa.select(Engineer.id, sa.func.count(sr.id))
            .join(sr, sr.engineer_id == Engineer.id)
            .where(sr.status == "assigned")
            .group_by(Engineer.id)
            .order_by(sa.func.count(sr.id).desc())
            .limit(engineers)
        ).all()
        engineer_users = [
            f"eng{engineer_id:04d}" for engineer_id, _ in busy
        ]  # bench/generate.py: engineer n logs in as engNNNN
        pages = list(
            db.session.scalars(
                sa.select(sr).where(sr.status.in_(("resolved", "revisited"))).order_by(sr.id.desc()).limit(customers)
            )
        )
        tokens = [current_token(p) for p in pages]
        db.session.commit()
    random.shuffle(waiting)
    random.shuffle(resolved)
    return {
        "waiting": deque((rid, skilled[category]) for rid, category in waiting if skilled[category]),
        "resolved": deque(resolved),
        "engineers": engineer_users,
        "tokens": tokens,
    }


class Client:
    """One keep-alive HTTP connection to the server, and the samples it took: (kind, ms, ok)."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, token: str | None = None, body=None, headers=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                return response.status, payload
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the server closed between two requests: open it again, once.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    return 599, b""
        return 599, b""


def login(port: int, username: str) -> str:
    status, body = Client(port).call("POST", "/api/v1/auth/token", body={"username": username, "password": PASSWORD})
    if status != 200:
        raise RuntimeError(f"log-in of {username} failed: {status} {body[:200]!r}")
    return json.loads(body)["token"]


def first_pulls(port: int, tokens: dict) -> dict:
    """Each engineer's phone has its jobs already (a full pull each, not timed): the run's pulls are the polls
    that follow, with the cursor."""
    client = Client(port)
    cursors = {}
    for username, token in tokens["engineers"].items():
        status, body = client.call("GET", "/api/v1/sync", token)
        if status != 200:
            raise RuntimeError(f"first pull of {username}: {status}")
        cursors[username] = json.loads(body)["cursor"]
    return cursors


def run_clients(
    port: int, work: dict, tokens: dict, cursors: dict, seconds: float, n_clients: int, warmup: float
) -> tuple[list, float]:
    samples: list[tuple[str, float, bool, int]] = []
    lock = threading.Lock()
    stop = threading.Event()
    measuring = threading.Event()

    def timed(client, kind, method, path, token=None, body=None, headers=None):
        started = time.perf_counter()
        status, payload = client.call(method, path, token, body, headers)
        ms = (time.perf_counter() - started) * 1000
        if measuring.is_set():
            with lock:
                samples.append((kind, ms, 200 <= status < 300, status))
        return status, payload

    def one(client: Client, rng: random.Random):
        kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
        dispatcher = rng.choice(tokens["dispatchers"])
        if kind == "assign":
            try:
                request_id, engineers = work["waiting"].pop()
            except IndexError:
                kind = "list"
            else:
                status, body = timed(client, "assign", "GET", f"/api/v1/requests/{request_id}", dispatcher)
                if status == 200:
                    version = json.loads(body)["version"]
                    timed(
                        client,
                        "assign",
                        "POST",
                        f"/api/v1/requests/{request_id}/assign",
                        dispatcher,
                        {"version": version, "engineer_id": rng.choice(engineers)},
                    )
                return
        if kind == "survey":
            try:
                request_id = work["resolved"].pop()
            except IndexError:
                kind = "list"
            else:
                status, body = timed(client, "survey", "GET", f"/api/v1/requests/{request_id}", tokens["callback"])
                if status == 200:
                    scores = {k: rng.choice((4, 5)) for k in ("timeliness", "attitude", "quality")}
                    timed(
                        client,
                        "survey",
                        "POST",
                        f"/api/v1/requests/{request_id}/revisit",
                        tokens["callback"],
                        {"version": json.loads(body)["version"], "satisfied": True, "scores": scores},
                    )
                return
        if kind == "list":
            page = rng.randint(1, 3)
            timed(
                client,
                "list",
                "GET",
                f"/api/v1/requests?status=awaiting_assignment&per_page=20&page={page}",
                dispatcher,
            )
        elif kind == "sync":
            username = rng.choice(work["engineers"])
            since = cursors.get(username)
            path = "/api/v1/sync" + (f"?since={since}" if since else "")
            status, body = timed(client, "sync", "GET", path, tokens["engineers"][username])
            if status == 200:
                cursors[username] = json.loads(body)["cursor"]
        elif kind == "customer":
            # Customers come from many addresses (through the proxy gunicorn is told to trust).
            address = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            timed(client, "customer", "GET", f"/r/{rng.choice(work['tokens'])}", headers={"X-Forwarded-For": address})

    def loop(seed: int):
        rng = random.Random(seed)
        client = Client(port)
        while not stop.is_set():
            one(client, rng)

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(n_clients)]
    for t in threads:
        t.start()
    time.sleep(warmup)
    measuring.set()
    started = time.perf_counter()
    time.sleep(seconds)
    measuring.clear()
    elapsed = time.perf_counter() - started
    stop.set()
    for t in threads:
        t.join(timeout=60)
    return samples, elapsed


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(samples, elapsed) -> dict:
    out = {}
    kinds = ["all", *MIX]
    for kind in kinds:
        chosen = [s for s in samples if kind == "all" or s[0] == kind]
        ms = [s[1] for s in chosen]
        errors = [s[3] for s in chosen if not s[2]]
        out[kind] = {
            "n": len(chosen),
            "rps": len(chosen) / elapsed,
            "p50": statistics.median(ms) if ms else float("nan"),
            "p95": percentile(ms, 95),
            "p99": percentile(ms, 99),
            "errors": len(errors),
            "codes": sorted(set(errors)),
        }
    return out


def start_gunicorn(workers: int, port: int, env: dict, log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "--keep-alive",
                "30",
                "fieldservice:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_healthy(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _ = Client(port).call("GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer /healthz")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def deadlocks(app) -> int:
    import sqlalchemy as sa

    from fieldservice.extensions import db

    with app.app_context():
        return db.session.scalar(sa.text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="gunicorn worker counts, one step each")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per step")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=8, help="client threads (people at work)")
    parser.add_argument("--rq-workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql") or not os.environ.get("REDIS_URL"):
        parser.error("set DATABASE_URL (PostgreSQL, filled by bench/generate.py) and REDIS_URL")

    from bench.fault_drill import start_worker
    from fieldservice import create_app

    env = {
        **os.environ,
        "SECRET_KEY": SECRET,
        "FIELDSERVICE_PROXIES": "1",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "PYTHONUNBUFFERED": "1",
    }
    app = create_app({"SECRET_KEY": SECRET})
    logging.getLogger("fieldservice").setLevel(logging.WARNING)  # the sweep's line per request changed
    work = prepare(app, customers=500, engineers=60)
    print(
        f"work: {len(work['waiting'])} requests to assign, {len(work['resolved'])} to survey, "
        f"{len(work['engineers'])} engineers syncing, {len(work['tokens'])} customers' pages"
    )
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"fieldservice-load-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    rq_workers = [start_worker(env, logs / f"rq-{i}.log") for i in range(args.rq_workers)]
    deadlocks_before = deadlocks(app)
    results = []
    try:
        for n in [int(w) for w in args.workers.split(",")]:
            port = free_port()
            server = start_gunicorn(n, port, env, logs / f"gunicorn-{n}.log")
            try:
                wait_healthy(port)
                tokens = {
                    "dispatchers": [login(port, f"bench-dispatcher{i}" if i else "bench-dispatcher") for i in range(8)],
                    "callback": login(port, "bench-callback"),
                    "engineers": {u: login(port, u) for u in work["engineers"]},
                }
                cursors = first_pulls(port, tokens)
                samples, elapsed = run_clients(port, work, tokens, cursors, args.seconds, args.clients, args.warmup)
            finally:
                stop(server)
            results.append((n, summary(samples, elapsed)))
            _print_step(results)
    finally:
        for worker in rq_workers:
            stop(worker)
    found = deadlocks(app) - deadlocks_before
    errors = sum(s["all"]["errors"] for _, s in results)
    print()
    print(f"errors: {errors} (target {TARGET_ERRORS}); deadlocks (pg_stat_database): {found} (target 0)")
    print(f"logs: {logs}")
    return 0 if errors == TARGET_ERRORS and found == 0 else 1


def _print_step(results) -> None:
    n, s = results[-1]
    previous = results[-2][1]["all"]["rps"] if len(results) > 1 else None
    ratio = f"  x{s['all']['rps'] / previous:.2f} the step before" if previous else ""
    print(f"\n{n} web worker(s): {s['all']['rps']:.1f} requests/s{ratio}")
    print(f"  {'kind':9} {'n':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for kind, k in s.items():
        codes = f" {k['codes']}" if k["codes"] else ""
        print(
            f"  {kind:9} {k['n']:6d} {k['rps']:7.1f} {k['p50']:8.1f} {k['p95']:8.1f} {k['p99']:8.1f} "
            f"{k['errors']:7d}{codes}"
        )


if __name__ == "__main__":
    sys.exit(main())
