"""Measure a report worker's memory: resident size before and after rendering N report PDFs, in the worker itself
(as before issue #20, finding 10) and in a child process per report (core.pdf.html_to_pdf_in_child, as now).

    python bench/worker_memory.py                 # SQLite in a temporary file, 30 reports each way
    python bench/worker_memory.py --reports 60

Each way runs in a fresh process of its own, so that one cannot inherit what the other allocated.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def measure(reports: int, in_child: bool) -> dict:
    from bench.reports_render import build_request
    from fieldservice import create_app
    from fieldservice.core.jobs import dispatch_committed_jobs
    from fieldservice.core.pdf import render_pdf
    from fieldservice.core.qr import qr_data_url
    from fieldservice.core.worker import rss_mb
    from fieldservice.extensions import db
    from fieldservice.reports import operations as ops

    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    app = create_app({"DATABASE_URL": url, "REDIS_URL": None, "SECRET_KEY": "bench", "TESTING": False})
    with app.app_context():
        db.create_all()
        sr = build_request(db)
        dispatch_committed_jobs()  # its report, built inline once: WeasyPrint is loaded and warm from here on
        report = ops.latest_report(sr)
        urls = ops.urls_for(sr)
        before = rss_mb()
        started = time.perf_counter()
        for _ in range(reports):
            render_pdf(
                "reports/report_pdf.html", in_child=in_child, r=report.content, qr=qr_data_url(urls["url"]), urls=urls
            )
        took = time.perf_counter() - started
        after = rss_mb()
    return {"before": before, "after": after, "per_report_ms": took / reports * 1000}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=30)
    parser.add_argument("--way", choices=["worker", "child"], help=argparse.SUPPRESS)  # one way, in this process
    args = parser.parse_args(argv)
    if args.way:
        print(json.dumps(measure(args.reports, in_child=args.way == "child")))
        return 0
    results = {}
    for way in ("worker", "child"):
        out = subprocess.run(
            [sys.executable, __file__, "--reports", str(args.reports), "--way", way],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[way] = json.loads(out.strip().splitlines()[-1])
    print(f"resident memory of the rendering process over {args.reports} report PDFs:")
    for way, label in (("worker", "rendered in the worker (before)"), ("child", "rendered in a child per report")):
        r = results[way]
        grown = r["after"] - r["before"]
        print(
            f"  {label:34} {r['before']:7.1f} MB -> {r['after']:7.1f} MB   grew {grown:6.1f} MB "
            f"({grown / args.reports:5.2f} MB a report), {r['per_report_ms']:.0f} ms a report"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
