"""Fault drill: kill -9 the worker at random moments under a queue of reports and notifications; count what was lost
and what happened twice. Exits 1 if anything was lost or duplicated.

    export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_drill REDIS_URL=redis://127.0.0.1:6379/9
    python bench/fault_drill.py --init             # create the schema first (an empty, dedicated database)
    python bench/fault_drill.py                     # 100 kills
    python bench/fault_drill.py --kills 5           # the short form CI runs (tests/test_core/test_fault_drill.py)

It makes --visits finished visits (each queues its report through rq), then, for each kill: queues more work
(reports deleted and queued again, new SMS notifications to a local provider that counts what it receives),
starts a real `fieldservice worker` in a session of its own, kills it with SIGKILL at a random moment after it has
started, and checks that no process of its session (a scheduler, a PDF renderer) lives on. Then one worker runs
until the queues are empty, every visit has its report and every notification is sent, or --settle seconds pass.
Last, with Redis unreachable, a request is logged (its jobs run inline).

Reported: reports lost (a visit without a report), reports built twice (a revision past 1: the PDF made again),
notifications lost (not sent), notifications sent twice (two successful attempts recorded), and re-sends the
provider received with a key it had seen (a worker killed between the provider's answer and the commit; the
Idempotency-Key lets the provider drop them; not counted as duplicates).
"""

import argparse
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Provider:
    """A local SMS provider: counts the messages it receives by idempotency key."""

    def __init__(self):
        self.received: Counter = Counter()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                provider.received[body["idempotency_key"]] += 1
                answer = json.dumps({"id": body["idempotency_key"]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def worker_env(database_url: str, redis_url: str, provider_url: str, reconcile_seconds: int) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "fault-drill"),
        "FIELDSERVICE_SMS_URL": provider_url,
        "FIELDSERVICE_HTTP_TIMEOUT": "5",
        # A killed worker's claimed messages go back to the outbox after this, rather than five minutes.
        "FIELDSERVICE_OUTBOX_LEASE": "12",
        "FIELDSERVICE_RECONCILE_SECONDS": str(reconcile_seconds),
    }


def start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    """A real `fieldservice worker`, leader of a session of its own (so its children can be found after it)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-c", "from fieldservice.cli import main; main()", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_working(process: subprocess.Popen, log_path: Path, timeout: float = 120) -> None:
    """Until the worker has said it started (its imports and the app are ready): a kill then lands amid jobs."""
    deadline = time.monotonic() + timeout
    line = f"started with PID {process.pid},".encode()
    while time.monotonic() < deadline and process.poll() is None:
        if line in log_path.read_bytes():
            return
        time.sleep(0.1)
    raise RuntimeError(f"the worker did not start; see {log_path}")


def session_members(session_id: int) -> list[int]:
    """Live processes of *session_id* (Linux /proc): after a kill -9 of its leader, the orphans."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, pgrp, session; a zombie (Z) is dead already.
        if int(fields[3]) == session_id and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def make_visits(app, run: str, count: int) -> None:
    """*count* requests, each with a finished visit (whose report job goes to rq), made as the console would."""
    from fieldservice.auth.operations import create_user
    from fieldservice.core.jobs import dispatch_committed_jobs
    from fieldservice.core.models import utcnow
    from fieldservice.customers import operations as customers
    from fieldservice.engineers.models import Engineer, EngineerSkill
    from fieldservice.extensions import db
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    with app.app_context():
        admin = create_user(f"drill-admin-{run}", "drill-password", "admin")
        dispatcher = create_user(f"drill-dispatcher-{run}", "drill-password", "dispatcher")
        user = create_user(f"drill-eng-{run}", "drill-password", "engineer", name="张师傅")
        engineer = Engineer(user_id=user.id, name="张师傅", zone="浦东", lat=31.2, lng=121.5, max_open_jobs=count + 1)
        engineer.skills = [EngineerSkill(category="air_conditioner")]
        problem = ProblemType(code=f"drill_{run}", name_zh="不制冷", name_en="Not cooling", category="repair")
        db.session.add_all([engineer, problem])
        customer = customers.create_customer(
            {"name": "上海绿源餐饮管理有限公司", "phone": "13912345678", "address": "上海市浦东新区", "zone": "浦东"},
            admin,
        )
        product = customers.create_product(
            {"name": "商用中央空调", "model": f"GMV-{run}", "category": "air_conditioner"}, admin
        )
        db.session.commit()
        for i in range(count):
            unit = customers.create_equipment(
                {"customer_id": customer.id, "product_id": product.id, "serial_number": f"DRILL-{run}-{i}"}, admin
            )
            data = {"customer_id": customer.id, "equipment_id": unit.id, "problem_type": problem.code, "priority": 2}
            data.update(description="空调不制冷", required_by=utcnow() + timedelta(days=1))
            sr = ops.create_request(data, dispatcher)
            db.session.commit()
            ops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id)
            db.session.commit()
            now = utcnow()
            visit = {"outcome": "resolved", "arrived_at": now - timedelta(seconds=1), "finished_at": now}
            visit.update(labour_hours=1.5, cause="冷媒泄漏", solution="补焊，加注冷媒", costs=[])
            ops.record_visit(sr, visit, user)
            db.session.commit()
            dispatch_committed_jobs()
        db.session.remove()


def add_work(app, run: str, cycle: int, reports: int, notifications: int, rng: random.Random) -> None:
    """Queue more work: *reports* visits lose their report and queue it again; *notifications* new SMS."""
    import sqlalchemy as sa

    from fieldservice.core.jobs import dispatch_committed_jobs
    from fieldservice.customers.models import Customer
    from fieldservice.extensions import db
    from fieldservice.notifications.jobs import drain_outbox
    from fieldservice.notifications.models import Notification
    from fieldservice.reports.jobs import build_report
    from fieldservice.reports.models import ServiceReport
    from fieldservice.requests.models import Visit

    with app.app_context():
        visit_ids = list(db.session.scalars(sa.select(Visit.id)))
        for visit_id in rng.sample(visit_ids, min(reports, len(visit_ids))):
            db.session.execute(sa.delete(ServiceReport).where(ServiceReport.visit_id == visit_id))
            build_report.delay(visit_id)
        phone = db.session.scalar(sa.select(Customer.phone).where(Customer.phone.is_not(None)).limit(1)) or "1390000"
        for i in range(notifications):
            db.session.add(
                Notification(
                    dedupe_key=f"drill:{run}:{cycle}:{i}:sms",
                    event="drill",
                    channel="sms",
                    recipient=phone,
                    subject=f"drill {cycle}.{i}",
                    body="fault drill",
                )
            )
        drain_outbox.delay()
        db.session.commit()
        dispatch_committed_jobs()
        db.session.remove()


def queues_idle(app) -> bool:
    from fieldservice.core.jobs import QUEUES, get_queue

    with app.app_context():
        for name in QUEUES:
            queue = get_queue(name)
            if queue.count or queue.started_job_registry.count or queue.scheduled_job_registry.count:
                return False
    return True


def outcome(app, provider: Provider, first_notification: int) -> dict:
    import sqlalchemy as sa

    from fieldservice.core.jobs import QUEUES, get_queue
    from fieldservice.extensions import db
    from fieldservice.notifications.models import DeliveryAttempt, Notification
    from fieldservice.reports.models import ServiceReport
    from fieldservice.requests.models import Visit

    with app.app_context():
        visits = db.session.scalar(sa.select(sa.func.count(Visit.id)))
        reports_per_visit = dict(
            db.session.execute(
                sa.select(Visit.id, sa.func.count(ServiceReport.id))
                .outerjoin(ServiceReport, ServiceReport.visit_id == Visit.id)
                .group_by(Visit.id)
            ).all()
        )
        rebuilt = db.session.scalar(sa.select(sa.func.count(ServiceReport.id)).where(ServiceReport.revision > 1))
        sms = db.session.execute(
            sa.select(Notification.id, Notification.status).where(
                Notification.channel == "sms", Notification.id >= first_notification
            )
        )
        sms = dict(sms.all())
        sent_twice = db.session.scalar(
            sa.select(sa.func.count()).select_from(
                sa.select(DeliveryAttempt.notification_id)
                .where(DeliveryAttempt.ok.is_(True), DeliveryAttempt.notification_id.in_(list(sms) or [0]))
                .group_by(DeliveryAttempt.notification_id)
                .having(sa.func.count() > 1)
                .subquery()
            )
        )
        failed = sum(get_queue(name).failed_job_registry.count for name in QUEUES)
        db.session.remove()
    received = {key: n for key, n in provider.received.items()}
    return {
        "visits": visits,
        "reports_lost": sum(1 for n in reports_per_visit.values() if n == 0),
        "reports_duplicated": sum(n - 1 for n in reports_per_visit.values() if n > 1) + rebuilt,
        "notifications": len(sms),
        "notifications_lost": sum(1 for status in sms.values() if status != "sent"),
        "notifications_not_received": sum(1 for nid in sms if f"notification-{nid}" not in received),
        "notifications_duplicated": sent_twice,
        "provider_resends": sum(n - 1 for n in received.values() if n > 1),
        "rq_failed_jobs": failed,
    }


def settled(result: dict) -> bool:
    return not (result["reports_lost"] or result["notifications_lost"])


def close(app) -> None:
    """Close the app's database and Redis connections."""
    from fieldservice.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        redis = app.extensions.pop("fieldservice_redis", None)
        if redis is not None:
            redis.close()


def redis_away_intake(database_url: str) -> str:
    """With Redis unreachable, log a request: it must be saved and its jobs run inline. Returns a line to print."""
    import sqlalchemy as sa

    from fieldservice import create_app
    from fieldservice.auth.models import User
    from fieldservice.core.jobs import dispatch_committed_jobs
    from fieldservice.core.models import utcnow
    from fieldservice.customers.models import Equipment
    from fieldservice.extensions import db
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    app = create_app(
        {"DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0", "INLINE_JOBS": False, "TESTING": False}
    )
    with app.app_context():
        dispatcher = db.session.scalar(sa.select(User).where(User.role == "dispatcher").limit(1))
        unit = db.session.scalar(sa.select(Equipment).limit(1))
        problem = db.session.scalar(sa.select(ProblemType.code).where(ProblemType.active.is_(True)).limit(1))
        data = {"customer_id": unit.customer_id, "equipment_id": unit.id, "problem_type": problem, "priority": 3}
        data.update(description="fault drill: Redis is away", required_by=utcnow() + timedelta(days=1))
        sr = ops.create_request(data, dispatcher)
        db.session.commit()
        ran = dispatch_committed_jobs()
        number = sr.number
    close(app)
    return f"Redis unreachable: request {number} logged, {ran} of its jobs ran inline"


def drill(
    database_url: str,
    redis_url: str,
    kills: int = 100,
    visits: int = 20,
    reports_per_kill: int = 1,
    notifications_per_kill: int = 3,
    max_wait: float = 3.0,
    settle: float = 600.0,
    seed: int = 20,
    reconcile_seconds: int = 10,
    out=print,
) -> dict:
    """Run the drill; returns the figures (see outcome()), with "kills" and "orphans"."""
    import sqlalchemy as sa

    from fieldservice import create_app
    from fieldservice.extensions import db
    from fieldservice.notifications.models import Notification

    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    provider = Provider()
    env = worker_env(database_url, redis_url, provider.url, reconcile_seconds)
    app = create_app(
        {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "TESTING": False, "FIELDSERVICE_SMS_URL": provider.url}
    )
    log_path = Path(tempfile.mkdtemp(prefix="fault-drill-")) / "worker.log"
    orphans = 0
    try:
        with app.app_context():
            # This run's notifications: those its requests and visits queue, and those it adds.
            first_notification = (db.session.scalar(sa.select(sa.func.max(Notification.id))) or 0) + 1
            db.session.remove()
        make_visits(app, run, visits)
        started = time.monotonic()
        for cycle in range(kills):
            add_work(app, run, cycle, reports_per_kill, notifications_per_kill, rng)
            process = start_worker(env, log_path)
            wait_until_working(process, log_path)
            time.sleep(rng.uniform(0, max_wait))
            process.send_signal(signal.SIGKILL)
            process.wait()
            time.sleep(0.2)  # the kernel delivers the children's death signal
            left = session_members(process.pid)
            if left:
                orphans += len(left)
                out(f"kill {cycle + 1}: processes left behind: {left}")
                for pid in left:
                    os.kill(pid, signal.SIGKILL)
        out(f"{kills} kills in {time.monotonic() - started:.0f} s; letting one worker finish (at most {settle:.0f} s)")
        process = start_worker(env, log_path)
        deadline = time.monotonic() + settle
        try:
            while time.monotonic() < deadline:
                time.sleep(2)
                if queues_idle(app) and settled(outcome(app, provider, first_notification)):
                    break
            time.sleep(3)  # a last drain that might still send something twice
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        result = outcome(app, provider, first_notification)
        log = log_path.read_text(errors="replace")
        result["abandoned_jobs_given_back"] = log.count("given back")
        result["reconciler_requeued"] = sum(
            int(line.split("reconciler: ")[1].split()[0]) for line in log.splitlines() if "reconciler: " in line
        )
        result["kills"], result["orphans"] = kills, orphans
        result["redis_away"] = redis_away_intake(database_url)
    finally:
        provider.close()
        close(app)
    out(f"worker log: {log_path}")
    return result


def failed(result: dict) -> bool:
    return bool(
        result["reports_lost"]
        or result["reports_duplicated"]
        or result["notifications_lost"]
        or result["notifications_not_received"]
        or result["notifications_duplicated"]
        or result["orphans"]
    )


def report(result: dict, out=print) -> None:
    out(f"kills: {result['kills']}, processes left behind after a kill: {result['orphans']}")
    out(f"reports: {result['visits']} visits, lost {result['reports_lost']}, duplicated {result['reports_duplicated']}")
    out(
        f"notifications: {result['notifications']}, lost {result['notifications_lost']} "
        f"(never received by the provider: {result['notifications_not_received']}), "
        f"duplicated {result['notifications_duplicated']}; re-sent with a known idempotency key: "
        f"{result['provider_resends']}"
    )
    out(
        f"abandoned jobs given back: {result['abandoned_jobs_given_back']}, reports queued again by the reconciler: "
        f"{result['reconciler_requeued']}, jobs in rq's failed registry: {result['rq_failed_jobs']}"
    )
    out(result["redis_away"])
    out(
        "jobs lost: {}, duplicated effects: {}".format(
            result["reports_lost"] + result["notifications_lost"],
            result["reports_duplicated"] + result["notifications_duplicated"],
        )
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--visits", type=int, default=20, help="finished visits made first (a report each)")
    parser.add_argument("--reports", type=int, default=1, help="reports deleted and queued again before each kill")
    parser.add_argument("--notifications", type=int, default=3, help="SMS queued before each kill")
    parser.add_argument("--max-wait", type=float, default=3.0, help="longest a worker works before its kill, s")
    parser.add_argument("--settle", type=float, default=600.0, help="longest wait for the queues at the end, s")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--init", action="store_true", help="create the schema (migrations) and stop")
    args = parser.parse_args(argv)
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not (database_url and database_url.startswith("postgres") and redis_url):
        parser.error("set DATABASE_URL (PostgreSQL, a dedicated database) and REDIS_URL")
    logging.getLogger("fieldservice").setLevel(logging.WARNING)  # the setup's lines; the workers log to a file
    if args.init:
        from flask_migrate import upgrade

        from fieldservice import create_app

        with create_app({"TESTING": False}).app_context():
            upgrade()
        return 0
    result = drill(
        database_url,
        redis_url,
        args.kills,
        args.visits,
        args.reports,
        args.notifications,
        args.max_wait,
        args.settle,
        args.seed,
    )
    report(result)
    return 1 if failed(result) else 0


if __name__ == "__main__":
    sys.exit(main())
