"""Every figure against the history counted by hand in conftest.py."""

import csv
import io
from datetime import timedelta

import pytest


def _dash(api, **params):
    response = api.get("/api/v1/analytics/dashboard", query_string={"lang": "en", **params})
    assert response.status_code == 200, response.json
    return response.json


def _table(data, name):
    return next(t for t in data["tables"] if t["name"] == name)["rows"]


def _kpi(data, key):
    return next(k for k in data["kpis"] if k["key"] == key)


def test_totals_and_kpis_unfiltered(api_as, history):
    data = _dash(api_as("manager"))
    assert data["totals"] == {
        "requests": 5,
        "open": 2,
        "resolved": 2,
        "cancelled": 1,
        "surveys": 2,
        "low_scores": 1,
        "self_service": 0,
    }
    assert data["self_service_share"] == 0.0
    # r1 solved on its first visit, r2 on its second: 1 of 2 visited requests.
    assert _kpi(data, "first_time_fix") | {} == {
        "key": "first_time_fix",
        "label": "First-time fix rate",
        "value": 50.0,
        "unit": "%",
        "target": 85.0,
        "op": ">=",
        "met": False,
    }
    # accepted after 10 and 40 minutes; the urgent one (r1) after 10.
    assert _kpi(data, "first_response_minutes")["value"] == 25.0
    assert _kpi(data, "first_response_minutes")["met"] is True
    assert _kpi(data, "first_response_urgent_minutes")["value"] == 10.0
    # resolved 2 h and 5 h after intake.
    assert _kpi(data, "resolution_hours")["value"] == 3.5
    assert _kpi(data, "sla_compliance")["value"] == 100.0
    assert _kpi(data, "satisfaction")["value"] == 100.0
    assert _kpi(data, "satisfaction")["met"] is True
    assert {s["status"]: s["requests"] for s in data["by_status"]} == {
        "revisited": 2,
        "awaiting_assignment": 2,
        "cancelled": 1,
    }


def test_breakdowns(api_as, history):
    data = _dash(api_as("manager"))
    assert [(r["problem_type"], r["label"], r["requests"], r["open"]) for r in _table(data, "problem_types")] == [
        ("leak", "Leak", 4, 1),
        ("install", "Installation", 1, 1),
    ]
    products = {r["product_id"]: (r["requests"], r["open"]) for r in _table(data, "products")}
    assert products == {history["p1"].id: (4, 1), history["p2"].id: (1, 1)}
    assert [(r["service_item"], r["requests"]) for r in _table(data, "service_items")] == [
        ("Repair", 4),
        ("Installation", 1),
    ]
    # No agreements in the history: every non-cancelled request is under "no coverage".
    assert _table(data, "agreements") == [
        {"agreement": "No coverage", "requests": 4, "breached": 0, "sla_compliance": 100.0}
    ]
    base = history["base"].date()
    trend = {r["day"]: r["requests"] for r in _table(data, "trend")}
    assert trend == {
        str(base - timedelta(days=40)): 1,
        str(base): 2,
        str(base + timedelta(days=1)): 2,
    }
    [engineer] = _table(data, "engineers")
    assert engineer | {} == {
        "engineer_id": history["e1"].id,
        "engineer": "张师傅",
        "zone": "浦东",
        "jobs": 2,
        "resolved": 2,
        "completion_rate": 100.0,
        "first_time_fix": 50.0,
        "response_minutes": 25.0,
        "resolution_hours": 3.5,
        "satisfaction": 100.0,
        "low_scores": 1,
    }


def test_zone_category_and_date_filters(api_as, history):
    api = api_as("manager")
    xuhui = _dash(api, zone="徐汇")
    assert xuhui["totals"]["requests"] == 2 and xuhui["totals"]["cancelled"] == 1
    assert _table(xuhui, "engineers") == []
    assert _kpi(xuhui, "first_time_fix")["value"] is None and _kpi(xuhui, "first_time_fix")["met"] is None
    printers = _dash(api, category="printer")
    assert printers["totals"]["requests"] == 1
    assert [r["problem_type"] for r in _table(printers, "problem_types")] == ["install"]
    base = history["base"].date()
    recent = _dash(api, since=str(base), until=str(base + timedelta(days=1)))
    assert recent["totals"]["requests"] == 4  # r5 was logged 40 days earlier
    first_day = _dash(api, since=str(base), until=str(base))
    assert first_day["totals"]["requests"] == 2  # the until day counts whole: r1 and r2
    assert _dash(api, zone="浦东", category="printer")["totals"]["requests"] == 0


def test_parts_used_returned_and_claimed(api_as, parts_history):
    api = api_as("manager")
    rows = {r["part"]: r for r in _table(_dash(api), "parts")}
    assert rows["F-1"] | {} == {
        "part": "F-1",
        "name": "滤芯",
        "used": 2,
        "returned": 1,
        "refurbished": 1,
        "scrapped": 0,
        "claimed": 1,
        "claimed_amount": 120.0,
        "accepted_amount": 100.0,
    }
    assert (rows["F-2"]["used"], rows["F-2"]["returned"], rows["F-2"]["scrapped"]) == (0, 1, 1)
    # A zone narrows to the parts of its requests: F-2 came back from stock, not from a request.
    pudong = {r["part"] for r in _table(_dash(api, zone="浦东"), "parts")}
    assert pudong == {"F-1"}
    assert _table(_dash(api, zone="徐汇"), "parts") == []


def test_complaints_by_type(db, api_as, history):
    from fieldservice.complaints.models import Complaint
    from fieldservice.core.models import utcnow

    a, b = history["a"], history["b"]
    r3 = history["requests"][2]
    rows = [
        ("attitude", a.id, None, "open"),
        ("attitude", b.id, r3.id, "closed"),
        ("billing", b.id, None, "open"),
    ]
    for i, (kind, customer_id, request_id, status) in enumerate(rows):
        db.session.add(
            Complaint(
                number=f"TS-T-{i}",
                channel="phone",
                kind=kind,
                severity="low",
                summary="投诉",
                description="投诉内容",
                customer_id=customer_id,
                request_id=request_id,
                status=status,
                due_at=utcnow() + timedelta(days=1),
            )
        )
    db.session.commit()
    api = api_as("manager")
    data = _dash(api)
    assert data["complaints_available"] is True
    assert [(r["type"], r["complaints"], r["open"]) for r in _table(data, "complaints")] == [
        ("attitude", 2, 1),
        ("billing", 1, 1),
    ]
    assert [(r["type"], r["complaints"]) for r in _table(_dash(api, zone="浦东"), "complaints")] == [("attitude", 1)]
    assert [(r["type"], r["complaints"]) for r in _table(_dash(api, category="printer"), "complaints")] == [
        ("attitude", 1)
    ]


def test_one_table_endpoint_and_errors(api_as, history):
    api = api_as("manager")
    response = api.get("/api/v1/analytics/tables/problem_types", query_string={"zone": "徐汇"})
    assert response.status_code == 200
    assert [(r["problem_type"], r["requests"]) for r in response.json["rows"]] == [
        ("install", 1),
        ("leak", 1),
    ]
    assert api.get("/api/v1/analytics/tables/nothing").status_code == 404
    bad = api.get("/api/v1/analytics/dashboard", query_string={"since": "2026-12-01", "until": "2026-11-01"})
    assert bad.status_code == 422 and "until" in bad.json["error"]["fields"]
    assert api.get("/api/v1/analytics/dashboard?since=yesterday").status_code == 422


@pytest.mark.parametrize(
    "role,status",
    [("manager", 200), ("admin", 200), ("dispatcher", 403), ("engineer", 403), ("callback", 403)],
)
def test_who_may_read(api_as, role, status):
    assert api_as(role).get("/api/v1/analytics/dashboard").status_code == status


def test_anonymous_gets_401(client):
    assert client.get("/api/v1/analytics/dashboard").status_code == 401


def test_console_page_and_csv(console_as, history):
    manager = console_as("manager")
    page = manager.get("/analytics/?lang=en&zone=浦东")
    assert page.status_code == 200
    html = page.data.decode()
    assert 'data-kpi="first_time_fix"' in html and "Requests by problem type" in html
    assert "vendor/chartjs/chart.umd.js" in html and "analytics-chart" in html
    response = manager.get("/analytics/export/engineers.csv?lang=en")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Engineer", "Zone", "Jobs"]
    assert rows[1][:5] == ["张师傅", "浦东", "2", "2", "100.0"]
    for name in (
        "kpis",
        "problem_types",
        "products",
        "agreements",
        "service_items",
        "trend",
        "parts",
        "complaints",
    ):
        assert manager.get(f"/analytics/export/{name}.csv").status_code == 200, name
    leak = list(
        csv.reader(
            io.StringIO(manager.get("/analytics/export/problem_types.csv?lang=en&zone=徐汇").data.decode("utf-8-sig"))
        )
    )
    assert leak[1:] == [["install", "Installation", "1", "1"], ["leak", "Leak", "1", "0"]]
    assert manager.get("/analytics/export/nothing.csv").status_code == 404
    assert console_as("dispatcher").get("/analytics/").status_code == 403


def test_bad_filter_is_shown_not_fatal(console_as, history):
    page = console_as("manager").get("/analytics/?lang=en&since=2026-12-01&until=2026-11-01&zone=徐汇")
    assert page.status_code == 200
    assert "Filter ignored" in page.data.decode()


def test_requests_by_channel_and_the_self_service_share(db, api_as, console_as, history):
    r1, r2, r3, r4, r5 = history["requests"]
    r3.channel, r5.channel, r4.channel = "qr", "qr", "wechat"
    db.session.commit()
    data = _dash(api_as("manager"))
    assert data["totals"]["self_service"] == 2 and data["self_service_share"] == 40.0
    rows = [{k: row[k] for k in ("label", "requests", "share")} for row in _table(data, "channels")]
    assert sorted(rows, key=lambda row: row["label"]) == [
        {"label": "Phone", "requests": 2, "share": 40.0},
        {"label": "QR page", "requests": 2, "share": 40.0},
        {"label": "WeChat", "requests": 1, "share": 20.0},
    ]
    # The filters apply: in 徐汇 (r3 by QR, r4 by WeChat) the share is one of two.
    zoned = _dash(api_as("manager"), zone="徐汇")
    assert zoned["totals"]["self_service"] == 1 and zoned["self_service_share"] == 50.0
    page = console_as("manager").get("/analytics/?lang=zh_Hans").get_data(as_text=True)
    assert "自助报修占比" in page and "40.0%" in page
