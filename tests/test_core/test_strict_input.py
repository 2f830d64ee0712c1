"""Lax validation refused (issue #20, finding 9): no coerced booleans or truncated integers, no control
characters in text, search boxes that take `%` and `_` literally, CSV cells a spreadsheet will not run."""

import csv
import io

import pytest


def _refused(answer, field: str) -> None:
    assert answer.status_code == 422, answer.get_data(as_text=True)[:300]
    assert field in answer.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("priority", 1.5), ("suspended", "yes"), ("suspended", "on"), ("suspended", 1), ("suspended", "true")],
)
def test_values_marshmallow_would_coerce_are_refused(intake, field, value):
    api, body = intake
    _refused(api.post("/api/v1/requests", json={**body, field: value}), field)


def test_a_real_boolean_and_a_whole_number_are_taken(intake):
    api, body = intake
    answer = api.post("/api/v1/requests", json={**body, "suspended": True, "priority": 2})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["status"] == "suspended"


def test_booleans_in_a_query_string_are_true_false_1_or_0(api_as):
    api = api_as("dispatcher")
    for value in ("true", "false", "1", "0"):
        assert api.get(f"/api/v1/requests?overdue={value}").status_code == 200
    _refused(api.get("/api/v1/requests?overdue=yes"), "overdue")


def test_nested_values_are_checked_too(api_as):
    answer = api_as("admin").post(
        "/api/v1/engineers",
        json={"username": "e1", "password": "password123", "name": "王工", "skills": ["x"], "work_days": [1.5]},
    )
    _refused(answer, "work_days.0")


@pytest.mark.parametrize("text", ["water\x07purifier", "\x1b[31mred", "del\x7f"])
def test_control_characters_in_text_are_refused(api_as, text):
    answer = api_as("admin").post(
        "/api/v1/engineers", json={"username": "e1", "password": "password123", "name": "王工", "skills": [text]}
    )
    _refused(answer, "skills.0")


def test_tabs_and_line_breaks_stay_allowed(intake):
    api, body = intake
    answer = api.post("/api/v1/requests", json={**body, "description": "漏水\r\n第二行\t完"})
    assert answer.status_code == 201, answer.get_json()


@pytest.mark.parametrize("q", ["%_%", "%", "_"])
def test_search_takes_like_wildcards_literally(api_as, make_customer, q):
    make_customer(name="张三")
    literal = make_customer(name="百分之%_%百")
    answer = api_as("dispatcher").get("/api/v1/customers", query_string={"q": q})
    assert answer.status_code == 200
    assert [c["id"] for c in answer.get_json()["items"]] == [literal.id]


def test_request_search_takes_like_wildcards_literally(intake):
    api, body = intake
    api.post("/api/v1/requests", json=body)
    percent = api.post("/api/v1/requests", json={**body, "description": "滤芯 100% 堵塞"}).get_json()
    items = api.get("/api/v1/requests", query_string={"q": "%"}).get_json()["items"]
    assert [r["id"] for r in items] == [percent["id"]]


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised():
    from fieldservice.analytics.export import table_csv

    columns = [{"key": "name", "label": "=名称"}, {"key": "n", "label": "数量"}]
    rows = [
        {"name": '=HYPERLINK("http://x")', "n": -3},
        {"name": "+1", "n": 1},
        {"name": "-1+2", "n": 2},
        {"name": "@SUM(A1)", "n": 3},
        {"name": "\tx", "n": 4},
        {"name": "\rx", "n": 5},
        {"name": "普通", "n": 6},
    ]
    body = list(csv.reader(io.StringIO(table_csv({"columns": columns, "rows": rows}).lstrip("\ufeff"))))
    assert body[0] == ["'=名称", "数量"]
    assert [row[0] for row in body[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-1+2",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "普通",
    ]
    assert body[1][1] == "-3"  # a negative number is not a formula


def test_the_import_template_goes_through_the_same_writer():
    from fieldservice.customers.importing import ImportKind, template_csv

    text = template_csv(ImportKind("x", ("=cmd", "name"), ("name",), {})).decode("utf-8-sig")
    assert text == "'=cmd,name\r\n"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_period_beyond_the_calendar_is_422_not_500(api_as, day):
    # Found by schemathesis: the period's ends are turned into UTC times, which overflow at the calendar's ends.
    _refused(api_as("manager").get(f"/api/v1/engineers/performance?from={day}&to={day}"), "from")
