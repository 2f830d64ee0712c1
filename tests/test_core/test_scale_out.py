"""Scale-out (issue #25): two web processes and two rq workers on one PostgreSQL and one Redis.

Real processes (gunicorn on two ports, two `fieldservice worker`): a login made on one process works on the other
(console session, API token, the customer's link) and ends on both; a rate limit counts the hits of both; a
periodic job runs once per period though two beats queue it; a job is run once though two workers take jobs.
"""

import http.cookiejar
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bench.fault_drill import ROOT, start_worker, wait_until_working
from bench.load import free_port, start_gunicorn, stop, wait_healthy
from fieldservice.auth.models import LoginAttempt
from fieldservice.core.jobs import dispatch_committed_jobs, redis_connection
from fieldservice.core.ratelimit import seconds_left, window_start
from tests.test_core.sample_jobs import count_run

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "scale-out-password"
ROLLUP_EVERY = 2  # seconds: the periodic job watched


class Browser:
    """urllib with one cookie jar for every port: a person whose requests land on either process."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def open(self, url: str, data: dict | None = None, headers: dict | None = None, json_body=None):
        body = None
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
        try:
            with self.opener.open(urllib.request.Request(url, data=body, headers=headers), timeout=30) as response:
                return response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, url, exc.read().decode()


@pytest.fixture
def cluster(worker_app, tmp_path):
    """Two gunicorn processes and two rq workers; yields their base URLs and the workers' logs."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": worker_app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": worker_app.config["REDIS_URL"],
        "SECRET_KEY": worker_app.config["SECRET_KEY"],
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "FIELDSERVICE_ANALYTICS_ROLLUP_SECONDS": str(ROLLUP_EVERY),
    }
    ports = [free_port(), free_port()]
    webs = [start_gunicorn(1, port, env, tmp_path / f"web-{port}.log") for port in ports]
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [start_worker(env, log) for log in logs]
    try:
        for port in ports:
            wait_healthy(port)
        for worker, log in zip(workers, logs, strict=True):
            wait_until_working(worker, log)
        yield {"urls": [f"http://127.0.0.1:{port}" for port in ports], "logs": logs}
    finally:
        for process in webs + workers:
            stop(process)


@pytest.fixture
def people(worker_app):
    """A dispatcher and a request with its customer's link."""
    from fieldservice.auth.operations import create_user
    from fieldservice.core.models import utcnow
    from fieldservice.customers import operations as customers
    from fieldservice.extensions import db
    from fieldservice.reports.operations import current_token
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    admin = create_user("scale-admin", PASSWORD, "admin")
    dispatcher = create_user("scale-dispatcher", PASSWORD, "dispatcher")
    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leak", category="repair"))
    product = customers.create_product({"name": "商用净水器", "model": "RO-SCALE", "category": "water_purifier"}, admin)
    customer = customers.create_customer(
        {"name": "静安客户", "phone": "13900001111", "address": "静安区南京西路 1 号", "zone": "静安"}, admin
    )
    sr = ops.create_request(
        {
            "customer_id": customer.id,
            "product_id": product.id,
            "problem_type": "leak",
            "priority": 3,
            "description": "漏水",
            "required_by": utcnow() + timedelta(days=2),
        },
        dispatcher,
    )
    db.session.flush()
    token = current_token(sr)
    db.session.commit()
    return {"dispatcher": dispatcher, "request_id": sr.id, "number": sr.number, "token": token}


def test_two_web_processes_and_two_workers_share_everything(cluster, people):
    a, b = cluster["urls"]

    # A console log-in made on one process is a log-in on the other; logging out on the other ends it on both.
    browser = Browser()
    status, _, page = browser.open(f"{a}/login")
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    status, landed, _ = browser.open(
        f"{a}/login", {"csrf_token": csrf, "username": "scale-dispatcher", "password": PASSWORD, "next": ""}
    )
    assert status == 200 and "/login" not in landed
    status, landed, page = browser.open(f"{b}/requests/{people['request_id']}")
    assert status == 200 and "/login" not in landed and "静安客户" in page

    # An API token issued by one process works on the other, and once ended there, on neither.
    status, _, body = Browser().open(
        f"{b}/api/v1/auth/token", json_body={"username": "scale-dispatcher", "password": PASSWORD}
    )
    assert status == 200
    bearer = {"Authorization": f"Bearer {json.loads(body)['token']}"}
    for url in (a, b):
        status, _, body = Browser().open(f"{url}/api/v1/requests/{people['request_id']}", headers=bearer)
        assert status == 200 and json.loads(body)["id"] == people["request_id"]
    assert Browser().open(f"{a}/api/v1/auth/logout", json_body={}, headers=bearer)[0] in (200, 204)
    for url in (a, b):
        assert Browser().open(f"{url}/api/v1/requests/{people['request_id']}", headers=bearer)[0] == 401

    # The customer's link opens the page on both.
    for url in (a, b):
        status, _, page = Browser().open(f"{url}/r/{people['token']}")
        assert status == 200 and people["number"] in page

    # A rate limit counts the hits of both processes: 30 wrong tokens per address per 10 minutes, then 429 on
    # either (started early enough in its window that the window does not end half-way).
    if seconds_left(window_start(600), 600) < 60:
        time.sleep(seconds_left(window_start(600), 600) + 1)
    for i in range(30):
        assert Browser().open(f"{(a, b)[i % 2]}/r/wrong-token-{i}")[0] == 404, i
    assert Browser().open(f"{a}/r/wrong-token-a")[0] == 429
    assert Browser().open(f"{b}/r/wrong-token-b")[0] == 429

    # 200 jobs queued at once, two workers taking them: each runs once, and both workers worked.
    from fieldservice.extensions import db

    markers = [f"scale-{i}" for i in range(200)]
    for marker in markers:
        count_run.delay(marker)
    db.session.commit()
    dispatch_committed_jobs()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = db.session.scalar(sa.select(sa.func.count()).where(LoginAttempt.username.in_(markers)))
        db.session.rollback()
        if done == len(markers):
            break
        time.sleep(0.5)
    assert done == len(markers)
    runs = [int(redis_connection().get(f"test:runs:{marker}") or 0) for marker in markers]
    assert Counter(runs) == {1: len(markers)}
    for log in cluster["logs"]:
        assert "sample_jobs.count_run" in log.read_text(), f"{log.name} took no job"

    # The periodic job (every 2 s here), queued by both workers' beats: each period's job ran exactly once.
    time.sleep(8 * ROLLUP_EVERY)
    slots = Counter()
    for log in cluster["logs"]:
        for line in log.read_text().splitlines():
            found = re.search(
                r"execute\('fieldservice\.analytics\.jobs\.refresh_rollups'\).*\(periodic-analytics-rollups-(\d+)\)",
                line,
            )
            if found:
                slots[int(found.group(1))] += 1
    assert len(slots) >= 5, slots
    assert set(slots.values()) == {1}, slots
    first, last = min(slots), max(slots)
    assert len(slots) >= (last - first + 1) - 1, slots  # no period skipped (one at the edge at most)
