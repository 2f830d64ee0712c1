"""Benchmark spare-parts stock: one stock movement (median and p95), concurrent consumption from the same van
(row-lock contention) and from separate vans, and the console's stock page and movement ledger.

    python bench/parts_stock.py      # SQLite in a temporary file (no real concurrency there)
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_bench_parts python bench/parts_stock.py

The data set: 200 parts, a central warehouse, 20 engineers' vans, each van loaded with 40 parts, and a ledger
of a few thousand movements.
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(db, n_parts: int, n_vans: int):
    from fieldservice.auth.operations import create_user
    from fieldservice.engineers.models import Engineer, EngineerSkill
    from fieldservice.parts import catalog, stock

    manager = create_user("bench-manager", "bench-password", "manager")
    supplier = catalog.create_supplier({"name": "基准测试供应商"}, manager)
    central = stock.create_warehouse({"code": "BENCH-C", "name": "基准中心仓", "kind": "central"}, manager)
    parts = [
        catalog.create_part(
            {
                "part_number": f"BP-{i:04d}",
                "name": f"测试备件{i}",
                "category": "water_purifier",
                "unit_price": "10.00",
                "supplier_id": supplier.id,
                "reorder_threshold": 5,
            },
            manager,
        )
        for i in range(n_parts)
    ]
    stock.receive_stock(
        {"warehouse_id": central.id, "lines": [{"part_id": p.id, "qty": 5000} for p in parts]}, manager
    )
    vans = []
    for i in range(n_vans):
        user = create_user(f"bench-eng{i}", "bench-password", "engineer")
        engineer = Engineer(
            user_id=user.id,
            name=f"工程师{i}",
            zone="浦东",
            lat=31.2,
            lng=121.5,
            max_open_jobs=5,
            skills=[EngineerSkill(category="water_purifier")],
        )
        db.session.add(engineer)
        db.session.flush()
        van = stock.ensure_van(engineer)
        stock.transfer_stock(
            {
                "from_warehouse_id": central.id,
                "to_warehouse_id": van.id,
                "lines": [{"part_id": p.id, "qty": 60} for p in parts[i * 7 % n_parts :][:40]],
            },
            manager,
        )
        vans.append(van)
    db.session.commit()
    return manager, parts, central, vans


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def one_movement(db, stock, manager, parts, vans, n: int) -> list[float]:
    customer = stock.location("customer").id
    times = []
    for i in range(n):
        k = i % len(vans)
        van = vans[k]
        # Van k holds the 40 parts from index 7k on (see build).
        part = parts[k * 7 % len(parts) + (i // len(vans)) % 40]
        start = time.perf_counter()
        stock.move_stock([stock.Move(part.id, 1, van.id, customer)], reason="use", actor=manager)
        db.session.commit()
        times.append((time.perf_counter() - start) * 1000)
    return times


def concurrent(
    app, stock, manager_id, part_id, van_ids, threads: int, per_thread: int
) -> tuple[float, int, int]:
    """threads × per_thread single-unit uses; van_ids is cycled per thread. -> (seconds, done, refused)."""
    from fieldservice.auth.models import User
    from fieldservice.core.errors import ApiError
    from fieldservice.extensions import db

    done, refused = [0], [0]
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)

    def run(k):
        with app.app_context():
            customer = stock.location("customer").id
            db.session.commit()
            actor = db.session.get(User, manager_id)
            barrier.wait()
            for _ in range(per_thread):
                try:
                    stock.move_stock(
                        [stock.Move(part_id, 1, van_ids[k % len(van_ids)], customer)], reason="use", actor=actor
                    )
                    db.session.commit()
                    ok = True
                except ApiError:
                    db.session.rollback()
                    ok = False
                with lock:
                    done[0] += ok
                    refused[0] += not ok
            db.session.remove()

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return time.perf_counter() - start, done[0], refused[0]


def page_times(client, path: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", type=int, default=200)
    parser.add_argument("--vans", type=int, default=20)
    parser.add_argument("--moves", type=int, default=300)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.db")
    from fieldservice import create_app
    from fieldservice.extensions import db

    app = create_app(
        {
            "TESTING": False,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "REDIS_URL": None,
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        from fieldservice.parts import stock
        from fieldservice.parts.models import StockMovement

        start = time.perf_counter()
        manager, parts, central, vans = build(db, args.parts, args.vans)
        print(
            f"database: {db.engine.dialect.name}; built {args.parts} parts, {args.vans} vans in "
            f"{time.perf_counter() - start:.1f} s"
        )

        times = one_movement(db, stock, manager, parts, vans, args.moves)
        print(
            f"one stock movement (lock, check, write ledger, commit): "
            f"median {statistics.median(times):.2f} ms, "
            f"p95 {percentile(times, 0.95):.2f} ms over {len(times)}"
        )

        if db.engine.dialect.name == "postgresql":
            hot_van, hot_part = vans[0], parts[0]
            stock.transfer_stock(
                {
                    "from_warehouse_id": central.id,
                    "to_warehouse_id": hot_van.id,
                    "lines": [{"part_id": hot_part.id, "qty": 100}],
                },
                manager,
            )
            db.session.commit()
            level = db.session.scalar(stock.stock_levels(hot_van.id, hot_part.id)).qty
            seconds, done, refused = concurrent(app, stock, manager.id, hot_part.id, [hot_van.id], 12, 15)
            db.session.expire_all()
            left = db.session.scalar(stock.stock_levels(hot_van.id, hot_part.id, include_empty=True)).qty
            print(
                f"12 threads x 15 uses of one van's {level} units: {done} taken, {refused} refused, "
                f"{left} left (never below 0) in {seconds:.2f} s "
                f"= {(done + refused) / seconds:.0f} attempts/s"
            )
            stock.receive_stock(
                {"warehouse_id": central.id, "lines": [{"part_id": hot_part.id, "qty": 2000}]}, manager
            )
            stock.transfer_stock(
                {
                    "from_warehouse_id": central.id,
                    "to_warehouse_id": vans[1].id,
                    "lines": [{"part_id": hot_part.id, "qty": 1}],
                },
                manager,
            )
            for van in vans[:12]:
                stock.transfer_stock(
                    {
                        "from_warehouse_id": central.id,
                        "to_warehouse_id": van.id,
                        "lines": [{"part_id": hot_part.id, "qty": 50}],
                    },
                    manager,
                )
            db.session.commit()
            seconds, done, refused = concurrent(
                app, stock, manager.id, hot_part.id, [v.id for v in vans[:12]], 12, 25
            )
            print(
                f"12 threads x 25 uses, one van each: {done} taken in {seconds:.2f} s = {done / seconds:.0f} "
                f"movements/s"
            )

        client = app.test_client()
        assert (
            client.post(
                "/login", data={"username": "bench-manager", "password": "bench-password"}
            ).status_code
            == 302
        )
        count = db.session.query(StockMovement).count()
        for label, path in (
            ("stock page, all warehouses", "/parts/stock"),
            ("stock page, one van", f"/parts/stock?warehouse_id={vans[3].id}"),
            (f"movement ledger ({count} rows), first page", "/parts/movements"),
            ("ledger filtered by part", f"/parts/movements?part_id={parts[5].id}"),
        ):
            times = page_times(client, path, 30)
            print(f"{label}: median {statistics.median(times):.1f} ms, p95 {percentile(times, 0.95):.1f} ms")


if __name__ == "__main__":
    main()
