"""Benchmark knowledge search: latency of Chinese and English queries over a large base (default 10,000
entries),
through the operations and through the HTTP API, and whether the right entry still comes first.

    python bench/knowledge_search.py                       # SQLite in a temporary file, 10,000 entries
    python bench/knowledge_search.py --entries 2000
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_kb_bench python bench/knowledge_search.py

The base is the demo's real entries plus variants of them (other sites, wording, products, some in English),
all
made through knowledge.operations.create_entry, so the index is the one the product builds.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SITES = [
    "三楼机房",
    "后厨",
    "一楼大厅",
    "检验科",
    "地下设备间",
    "办公区",
    "员工餐厅",
    "手术室走廊",
    "仓库",
    "前台",
]
TAILS = [
    "，客户反映已持续两天",
    "，夜间更明显",
    "，重启后仍然出现",
    "，偶发",
    "，上周保养后出现",
    "",
    "，影响营业",
]
ENGLISH = [
    ("Water leaking from the bottom of the unit", "Inlet valve seal worn", "Replace the inlet valve seal"),
    ("Unit does not cool, fan runs", "Start capacitor failed", "Replace the start capacitor"),
    ("Paper jams in tray {n}", "Pick-up roller worn", "Replace the pick-up roller kit"),
    ("Display shows error E{n} after power on", "Sensor open circuit", "Replace the temperature sensor"),
    ("Door does not close, reopens repeatedly", "Light curtain dirty", "Clean or replace the light curtain"),
    ("Loud knocking noise from the outdoor unit", "Fan blade loose", "Tighten or replace the fan blade"),
]
# (query, the demo symptom the first hit must be or contain: the demo entry or one of its site variants)
QUERIES = [
    ("机器底部漏水", "净水器机器底部漏水"),
    ("卡纸", "纸盒进纸频繁卡纸"),
    ("E30", "电梯停在两层之间，显示 E30 平层故障"),
    ("扶手带速度不同步", "自动扶梯扶手带与梯级速度不同步"),
    ("冷藏箱温度高报警", "医用冷藏箱温度过高报警"),
    ("不制冷 常温风", "空调开机后不制冷，出风口吹常温风"),
    ("客户说今天早上发现机器底部漏水了，地上湿了一片", "机器底部漏水"),
    ("leak", "Water leaking from the bottom"),
    ("compres", None),
    ("paper jammed", "Paper jams in tray"),
]


def build(db, n: int, rng: random.Random) -> int:
    from fieldservice.auth.operations import create_user
    from fieldservice.customers import operations as customers
    from fieldservice.customers.demo import PRODUCTS
    from fieldservice.knowledge import demo
    from fieldservice.knowledge import operations as ops

    manager = create_user("bench-manager", "bench-password", "manager")
    products = [
        customers.create_product({"name": name, "model": model, "category": c}, manager)
        for name, model, c in PRODUCTS
    ]
    by_model = {p.model: p for p in products}
    db.session.commit()
    for row in demo.ENTRIES:
        ops.create_entry(demo.entry_data(row, by_model), manager)
    made = len(demo.ENTRIES)
    while made < n:
        if rng.random() < 0.1:
            symptom, cause, solution = rng.choice(ENGLISH)
            data = {
                "category": rng.choice(list({p.category for p in products})),
                "symptom": symptom.format(n=rng.randint(1, 99)),
                "status": "published",
                "causes": [{"description": cause, "solutions": [{"summary": solution, "steps": []}]}],
            }
        else:
            row = rng.choice(demo.ENTRIES)
            data = demo.entry_data(row, by_model)
            # Another site and wording, and sometimes another product of the category: near-duplicates, the
            # hard case.
            data["symptom"] = (rng.choice(SITES) + row[3] + rng.choice(TAILS))[:300]
            data["fault_code"] = None
            same = [p for p in products if p.category == row[0]]
            data["product_id"] = rng.choice(same).id if rng.random() < 0.5 else None
        ops.create_entry(data, manager)
        made += 1
        if made % 500 == 0:
            db.session.commit()
            print(f"  {made} entries", flush=True)
    db.session.commit()
    # Some of the variants have a record: ranking must weigh it, and still put the exact demo entry first.
    ids = list(db.session.scalars(db.select(ops.KnowledgeEntry.id)))
    for entry_id in rng.sample(ids, min(len(ids), n // 10)):
        ops.record_use(entry_id, rng.random() < 0.7)
    db.session.commit()
    return made


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20, help="Timed runs of each query.")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "kb_bench.db")
    from fieldservice import create_app
    from fieldservice.extensions import db

    app = create_app({"DATABASE_URL": url, "REDIS_URL": None, "TESTING": True, "SECRET_KEY": "bench"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        from fieldservice.auth.operations import create_user, issue_token
        from fieldservice.knowledge import operations as ops
        from fieldservice.knowledge.models import KnowledgeTerm

        started = time.perf_counter()
        made = build(db, args.entries, random.Random(20261123))
        built = time.perf_counter() - started
        terms = db.session.scalar(db.select(db.func.count()).select_from(KnowledgeTerm))
        print(
            f"database: {db.engine.dialect.name}; {made} entries, {terms} index rows, "
            f"built in {built:.1f} s ({built / made * 1000:.1f} ms per entry, revision and index included)"
        )

        dispatcher = create_user("bench-dispatcher", "bench-password", "dispatcher")
        db.session.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {issue_token(dispatcher)}"}
        db.session.commit()

        print(f"\n{'query':<34} {'hits':>6} {'p50 ms':>8} {'p95 ms':>8} {'api p50':>8}  first")
        all_times, api_times, right = [], [], 0
        checked = 0
        for q, expected in QUERIES:
            times, total = [], 0
            for _ in range(args.rounds):
                db.session.expire_all()
                t = time.perf_counter()
                ranked = ops.ranked_ids(q)
                hits = ops.load_hits(ranked[:10])
                times.append((time.perf_counter() - t) * 1000)
                total = len(ranked)
            api = []
            for _ in range(max(3, args.rounds // 4)):
                t = time.perf_counter()
                response = client.get(f"/api/v1/knowledge?q={quote(q)}&limit=10", headers=headers)
                api.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200, response.get_data(as_text=True)
            all_times += times
            api_times += api
            top = hits[0].symptom if hits else "-"
            if expected is not None:
                checked += 1
                right += expected in top
            label = q if len(q) <= 16 else q[:15] + "…"
            print(
                f"{label:<34} {total:>6} {statistics.median(times):>8.1f} {percentile(times, 95):>8.1f} "
                f"{statistics.median(api):>8.1f}  {top[:28]}"
            )
        print(
            f"\nall queries: p50 {statistics.median(all_times):.1f} ms, "
            f"p95 {percentile(all_times, 95):.1f} ms, "
            f"max {max(all_times):.1f} ms; through the API p50 {statistics.median(api_times):.1f} ms, "
            f"p95 {percentile(api_times, 95):.1f} ms"
        )
        print(f"the right entry (or one of its variants) first for {right} of {checked} checked queries")

        t = time.perf_counter()
        package = ops.offline_changes(["water_purifier", "air_conditioner"], None)
        print(
            f"offline package (2 categories, no cursor): {len(package['entries'])} entries in "
            f"{(time.perf_counter() - t) * 1000:.0f} ms (query only)"
        )
        db.session.remove()
        if not os.environ.get("DATABASE_URL"):
            db.engine.dispose()


if __name__ == "__main__":
    main()
