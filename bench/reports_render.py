"""Benchmark the e-service report: PDF render time (median, target < 400 ms for a two-page report) and the
customer's public page /r/<token> (p95, target < 20 ms).

    python bench/reports_render.py                 # SQLite in a temporary file
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_bench python bench/reports_render.py

The report is a realistic long one: a Chinese diagnosis, twelve cost lines and a signature, which WeasyPrint lays
out over two A4 pages.
"""

import argparse
import base64
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def signature() -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 200), "white")
    ImageDraw.Draw(image).line([(10, 160), (160, 40), (300, 140), (590, 30)], fill="black", width=6)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def build_request(db):
    from fieldservice.auth.operations import create_user
    from fieldservice.core.models import utcnow
    from fieldservice.customers import operations as customers
    from fieldservice.engineers.models import Engineer, EngineerSkill
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    admin = create_user("bench-admin", "bench-password", "admin")
    dispatcher = create_user("bench-dispatcher", "bench-password", "dispatcher")
    user = create_user("bench-eng", "bench-password", "engineer", name="张师傅")
    engineer = Engineer(
        user_id=user.id,
        name="张师傅",
        zone="浦东",
        lat=31.2,
        lng=121.5,
        max_open_jobs=5,
        skills=[EngineerSkill(category="air_conditioner")],
    )
    db.session.add_all(
        [engineer, ProblemType(code="no_cooling", name_zh="不制冷", name_en="Not cooling", category="repair")]
    )
    customer = customers.create_customer(
        {
            "name": "上海绿源餐饮管理有限公司",
            "phone": "13912345678",
            "address": "上海市浦东新区张江路 88 号",
            "zone": "浦东",
        },
        admin,
    )
    product = customers.create_product(
        {"name": "商用中央空调 多联机", "model": "GMV-H180WL", "category": "air_conditioner"}, admin
    )
    unit = customers.create_equipment(
        {"customer_id": customer.id, "product_id": product.id, "serial_number": "GMV-BENCH-0001"}, admin
    )
    start = utcnow() - timedelta(hours=4)
    sr = ops.create_request(
        {
            "customer_id": customer.id,
            "equipment_id": unit.id,
            "problem_type": "no_cooling",
            "priority": 2,
            "description": "空调开机后不制冷，出风口是常温风，室温 29 度",
            "required_by": utcnow() + timedelta(days=1),
        },
        dispatcher,
        now=start,
    )
    db.session.commit()
    ops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id, now=start)
    db.session.commit()
    now = utcnow()
    ops.record_visit(
        sr,
        {
            "outcome": "resolved",
            "arrived_at": now - timedelta(hours=3),
            "finished_at": now,
            "labour_hours": 2.5,
            "cause": "冷媒泄漏：室外机高压阀门铜管焊点有砂眼，系统压力仅 0.8 MPa。" * 6,
            "solution": "补焊砂眼，抽真空 30 分钟，加注 R410A 冷媒 2.4 kg，运行 40 分钟出风 12 ℃。" * 8,
            "costs": [{"kind": "travel", "amount": 30 + i} for i in range(12)],
            "signature": signature(),
        },
        user,
    )
    db.session.commit()
    return sr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf-runs", type=int, default=15)
    parser.add_argument("--page-runs", type=int, default=300)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    from fieldservice import create_app
    from fieldservice.extensions import db

    app = create_app({"DATABASE_URL": url, "REDIS_URL": None, "SECRET_KEY": "bench", "TESTING": False})
    with app.app_context():
        db.drop_all()
        db.create_all()
        from fieldservice.core.jobs import dispatch_committed_jobs
        from fieldservice.core.pdf import render_pdf
        from fieldservice.core.qr import qr_data_url
        from fieldservice.reports import operations as reports

        sr = build_request(db)
        dispatch_committed_jobs()
        report = reports.latest_report(sr)
        urls = reports.urls_for(sr)
        from pypdf import PdfReader

        pages = len(PdfReader(io.BytesIO(report.pdf)).pages)
        timings = []
        for _ in range(args.pdf_runs):
            started = time.perf_counter()
            render_pdf("reports/report_pdf.html", r=report.content, qr=qr_data_url(urls["url"]), urls=urls)
            timings.append((time.perf_counter() - started) * 1000)
        path = urls["url"].split("://", 1)[1].split("/", 1)[1]
        client = app.test_client()
        page_times = []
        for i in range(args.page_runs):
            # A different client address per hit: the public page's rate limit is per address.
            started = time.perf_counter()
            response = client.get("/" + path, environ_base={"REMOTE_ADDR": f"10.0.{i // 250}.{i % 250}"})
            page_times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        db.session.remove()
        db.drop_all()

    page_times.sort()
    p95 = page_times[int(len(page_times) * 0.95) - 1]
    print(f"database: {url.split('://')[0]}")
    print(f"report PDF: {pages} pages, {len(report.pdf) / 1024:.0f} KiB")
    print(
        f"PDF render over {args.pdf_runs} runs: median {statistics.median(timings):.0f} ms, "
        f"min {min(timings):.0f} ms, max {max(timings):.0f} ms (target: median < 400 ms)"
    )
    print(
        f"customer page over {args.page_runs} hits: median {statistics.median(page_times):.1f} ms, "
        f"p95 {p95:.1f} ms (target: p95 < 20 ms)"
    )


if __name__ == "__main__":
    main()
