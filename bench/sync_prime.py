"""Benchmark priming: an engineer's whole offline set fetched through GET /api/v1/sync/prime and the pages of
every kind (GET /api/v1/sync/prime/<kind>, 200 items a page, as the PWA asks), timed on the server side.
Target (issue 26, on PostgreSQL): 2,000 records primed in under 3 s.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_sync_bench python bench/sync_prime.py

The set (about 2,000 records with the defaults): 40 jobs on units with 5 earlier requests each (200 history
records), a parts catalog of 1,000, 300 van stock lines, 300 knowledge entries of the engineer's skill (and 300
of another, not primed), 100 repair items, 20 problem types, 20 appointments. The counts the summary gives are
checked against the items the pages brought. The database's tables are dropped and re-created: give it a
database of its own.
"""

import argparse
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_replay import count_queries, print_queries  # noqa: E402


def build(db, args):
    """The engineer and the offline set, rows made directly (a read benchmark: how they were made is not timed)."""
    from fieldservice.appointments.models import Appointment
    from fieldservice.auth.operations import create_user, issue_token
    from fieldservice.core.models import utcnow
    from fieldservice.customers.models import Customer, Equipment, Product
    from fieldservice.engineers.models import Engineer, EngineerSkill
    from fieldservice.knowledge.models import KnowledgeCause, KnowledgeEntry, KnowledgeSolution
    from fieldservice.parts.models import Part, StockLevel, Warehouse
    from fieldservice.requests.models import ProblemType, RequestEvent, ServiceRequest, Visit
    from fieldservice.settlement.models import RepairItem

    now = utcnow()
    user = create_user("bench-eng", "bench-password", "engineer", name="王师傅")
    engineer = Engineer(
        user_id=user.id,
        name="王师傅",
        zone="浦东",
        lat=31.2,
        lng=121.5,
        max_open_jobs=args.jobs,
        skills=[EngineerSkill(category="water_purifier")],
    )
    product = Product(name="商用净水器", model="RO-BENCH", category="water_purifier")
    db.session.add_all([engineer, product])
    db.session.add_all(
        ProblemType(code=f"p{n:02d}", name_zh=f"问题{n}", name_en=f"Problem {n}", category="repair") for n in range(20)
    )
    db.session.flush()
    number = iter(range(1, 10**6))
    for j in range(args.jobs):
        customer = Customer(name=f"客户{j}", phone=f"1390000{j:04d}", address=f"文三路 {j} 号", zone="西湖")
        unit = Equipment(customer=customer, product=product, serial_number=f"RO-{j:05d}")
        db.session.add_all([customer, unit])
        db.session.flush()
        for k in range(args.history + 1):
            job = k == args.history
            at = now - timedelta(days=(args.history - k) * 30 + 1)
            sr = ServiceRequest(
                number=f"SR-BENCH-{next(number):06d}",
                customer_id=customer.id,
                product_id=product.id,
                equipment_id=unit.id,
                service_category="water_purifier",
                problem_type=f"p{k % 20:02d}",
                description="净水器不出水，指示灯闪烁" if job else "滤芯到期，出水有异味",
                priority=3,
                required_by=now + timedelta(days=2),
                response_due=now + timedelta(days=1),
                resolution_due=now + timedelta(days=3),
                status="assigned" if job else "revisited",
                engineer_id=engineer.id,
                assigned_at=at,
                created_at=at,
            )
            db.session.add(sr)
            db.session.flush()
            db.session.add(RequestEvent(request_id=sr.id, at=at, action="assign", actor_label="调度", data={}))
            if not job:
                db.session.add(
                    Visit(
                        request_id=sr.id,
                        engineer_id=engineer.id,
                        arrived_at=at,
                        finished_at=at + timedelta(hours=1),
                        labour_hours=1,
                        cause="滤芯堵塞",
                        solution="更换 PP 棉滤芯",
                        outcome="resolved",
                    )
                )
            elif j < args.appointments:
                db.session.add(
                    Appointment(
                        request_id=sr.id,
                        engineer_id=engineer.id,
                        starts_at=now + timedelta(days=1, hours=j % 8),
                        ends_at=now + timedelta(days=1, hours=j % 8 + 1),
                    )
                )
    parts = [Part(part_number=f"P-{n:05d}", name=f"滤芯{n}", category="water_purifier") for n in range(args.parts)]
    db.session.add_all(parts)
    van = Warehouse(code="VAN-1", name="王师傅", kind="van", engineer_id=engineer.id)
    db.session.add(van)
    db.session.flush()
    db.session.add_all(StockLevel(warehouse_id=van.id, part_id=p.id, qty=3) for p in parts[: args.stock])
    for n in range(args.knowledge * 2):
        entry = KnowledgeEntry(
            category="water_purifier" if n % 2 == 0 else "printer",
            symptom=f"故障现象 {n}",
            status="published",
        )
        entry.causes = [
            KnowledgeCause(
                description=f"原因 {c}",
                position=c,
                solutions=[KnowledgeSolution(summary="更换", steps=["关水", "更换"])],
            )
            for c in range(2)
        ]
        db.session.add(entry)
    db.session.add_all(
        RepairItem(category="water_purifier", code=f"R{n:03d}", name_zh="换膜", name_en="Membrane", standard_hours=1)
        for n in range(args.repair_items)
    )
    token = issue_token(user)
    db.session.commit()
    return token


def prime(client, token: str, limit: int) -> tuple[dict, Counter, int]:
    headers = {"Authorization": f"Bearer {token}"}
    summary = client.get("/api/v1/sync/prime", headers=headers)
    assert summary.status_code == 200, summary.json
    received: Counter = Counter()
    pages = 0
    for kind in summary.json["kinds"]:
        after = None
        while True:
            query = {"limit": limit} | ({"after": after} if after else {})
            page = client.get(f"/api/v1/sync/prime/{kind}", query_string=query, headers=headers)
            assert page.status_code == 200, page.json
            pages += 1
            received[kind] += len(page.json["items"])
            after = page.json["next"]
            if after is None:
                break
    return summary.json["kinds"], received, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--history", type=int, default=5, help="earlier requests per job's unit")
    parser.add_argument("--parts", type=int, default=1000)
    parser.add_argument("--stock", type=int, default=300)
    parser.add_argument("--knowledge", type=int, default=300)
    parser.add_argument("--repair-items", type=int, default=100)
    parser.add_argument("--appointments", type=int, default=20)
    parser.add_argument("--limit", type=int, default=200, help="items a page (the PWA asks 200)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    from fieldservice import create_app
    from fieldservice.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": False})
    logging.getLogger("fieldservice").setLevel(logging.WARNING)
    with app.app_context():
        db.drop_all()
        db.create_all()
        token = build(db, args)
        client = app.test_client()
        with count_queries(db.engine) as queries:
            started = time.perf_counter()
            cpu = time.process_time()
            counts, received, pages = prime(client, token, args.limit)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
        db.session.remove()
        db.drop_all()

    total = sum(received.values())
    assert dict(received) == {k: v for k, v in counts.items() if v}, (counts, received)
    print(f"database: {url.split('://')[0]}; {pages} pages of at most {args.limit} items")
    print("records per kind: " + ", ".join(f"{kind} {counts[kind]}" for kind in counts) + " (the summary's counts)")
    print(
        f"primed: {total} records in {seconds:.2f} s server time ({cpu:.2f} s of it on this process's CPU;"
        f" target 2,000 in < 3 s), {seconds / total * 1000:.2f} ms a record"
    )
    print_queries("priming", queries, pages, seconds, 15)


if __name__ == "__main__":
    main()
