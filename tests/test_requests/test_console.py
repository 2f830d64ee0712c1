"""Console pages: intake, the list with filters and saved filters, the detail page, problem types."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.models import utcnow
from fieldservice.requests import operations as ops
from fieldservice.requests.models import ProblemType, RequestEvent, ServiceRequest
from fieldservice.requests.saved_filters import SavedFilter


def _local(dt):
    from fieldservice.core.clock import site_zone

    return dt.astimezone(site_zone()).strftime("%Y-%m-%dT%H:%M")


def _intake_form(customer, **kw):
    data = {
        "customer_id": str(customer.id),
        "problem_type": "leak",
        "priority": "2",
        "channel": "phone",
        "required_by": _local(utcnow() + timedelta(days=1)),
        "description": "净水器底部漏水",
        "service_category": "water_purifier",
    }
    data.update(kw)
    return data


def test_intake_page_shows_history_equipment_and_problem_types(console_as, make_request, make_equipment):
    unit = make_equipment()
    earlier = make_request(customer=unit.customer, product=unit.product)
    page = console_as("dispatcher").get(f"/requests/new?customer_id={unit.customer_id}&lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert earlier.number in html and unit.serial_number in html
    assert "Leaking" in html and "Retired type" not in html  # only the active managed list
    assert 'data-default-required="' in html  # the required date's proposed default
    assert 'name="required_by"' in html and 'value="20' in html


def test_customer_search_lists_matches(console_as, make_customer):
    customer = make_customer(name="上海浦东净水科技有限公司")
    response = console_as("dispatcher").get("/requests/new/customers?q=浦东净水")
    assert response.status_code == 200
    assert f"customer_id={customer.id}" in response.get_data(as_text=True)


def test_intake_post_creates_and_shows_the_detail(console_as, make_customer, problem_types, db):
    customer = make_customer()
    c = console_as("dispatcher")
    response = c.post(f"/requests/new?customer_id={customer.id}", data=_intake_form(customer))
    assert response.status_code == 302
    sr = db.session.scalar(sa.select(ServiceRequest))
    assert response.headers["Location"].endswith(f"/requests/{sr.id}")
    assert (sr.status, sr.priority, sr.problem_type, sr.service_category) == (
        "awaiting_assignment",
        2,
        "leak",
        "water_purifier",
    )
    detail = c.get(f"/requests/{sr.id}?lang=en").get_data(as_text=True)
    assert sr.number in detail and "Awaiting assignment" in detail and 'data-action="create"' in detail
    assert 'data-testid="do-assign"' in detail and 'data-testid="clock-response"' in detail


def test_intake_with_bad_input_shows_the_message_and_creates_nothing(
    console_as, make_customer, problem_types, db
):
    customer = make_customer()
    c = console_as("dispatcher")
    response = c.post(
        f"/requests/new?customer_id={customer.id}&lang=en",
        data=_intake_form(customer, description="", required_by=_local(utcnow() - timedelta(days=2))),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Describe the problem." in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRequest)) == 0
    # The operation's own refusal (a past required date) shows on its field too.
    response = c.post(
        f"/requests/new?customer_id={customer.id}&lang=en",
        data=_intake_form(customer, required_by=_local(utcnow() - timedelta(days=2))),
    )
    assert response.status_code == 422
    assert "The required date is in the past." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRequest)) == 0


@pytest.mark.parametrize(
    "role, status", [("engineer", 403), ("callback", 403), ("manager", 200), ("admin", 200)]
)
def test_intake_is_for_dispatching_roles(console_as, role, status):
    assert console_as(role).get("/requests/new").status_code == status


def test_list_filters_and_saved_filters(console_as, make_request, make_customer, db):
    north = make_request(customer=make_customer(zone="宝山"), priority=1)
    south = make_request(customer=make_customer(zone="闵行"), priority=4)
    c = console_as("dispatcher")
    html = c.get("/requests?zone=宝山").get_data(as_text=True)
    assert north.number in html and south.number not in html
    html = c.get("/requests?priority=4").get_data(as_text=True)
    assert south.number in html and north.number not in html
    html = c.get("/requests?status=locked").get_data(as_text=True)
    assert north.number not in html and south.number not in html
    # A bad value is ignored, not an error page.
    assert c.get("/requests?priority=9&status=nonsense").status_code == 200
    response = c.post("/requests/filters", data={"name": "宝山急单", "query": "zone=宝山&priority=1&page=3"})
    assert response.status_code == 302
    saved = db.session.scalar(sa.select(SavedFilter))
    assert saved.query == "priority=1&zone=%E5%AE%9D%E5%B1%B1"  # page is not part of a filter
    html = c.get("/requests").get_data(as_text=True)
    assert "宝山急单" in html
    assert c.post(f"/requests/filters/{saved.id}/delete").status_code == 302
    assert db.session.scalar(sa.select(SavedFilter)) is None


def test_saved_filter_of_another_user_cannot_be_deleted(console_as, db):
    owner = console_as("dispatcher")
    owner.post("/requests/filters", data={"name": "mine", "query": "status=locked"})
    saved = db.session.scalar(sa.select(SavedFilter))
    assert console_as("dispatcher").post(f"/requests/filters/{saved.id}/delete").status_code == 404
    assert db.session.get(SavedFilter, saved.id) is not None


def test_overdue_filter(console_as, make_request, db):
    late = make_request(now=utcnow() - timedelta(days=3), required_by=utcnow() - timedelta(days=1))
    fine = make_request()
    html = console_as("manager").get("/requests?overdue=true").get_data(as_text=True)
    assert late.number in html and fine.number not in html


def test_action_buttons_follow_role_and_state(console_as, make_request, engineer):
    sr = make_request()
    dispatcher_page = console_as("dispatcher").get(f"/requests/{sr.id}").get_data(as_text=True)
    assert 'data-testid="do-assign"' in dispatcher_page and 'data-testid="do-unlock"' not in dispatcher_page
    engineer_page = (
        console_as("engineer", user=engineer.user).get(f"/requests/{sr.id}").get_data(as_text=True)
    )
    assert 'data-testid="do-claim"' in engineer_page and 'data-testid="do-assign"' not in engineer_page
    # A callback agent does not see an unresolved request at all.
    assert console_as("callback").get(f"/requests/{sr.id}").status_code == 404


def test_assign_from_the_detail_page(console_as, make_request, engineer, db):
    sr = make_request()
    c = console_as("dispatcher")
    response = c.post(
        f"/requests/{sr.id}/do/assign",
        data={"assign-version": sr.version, "assign-seen": 0, "assign-engineer_id": engineer.id},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (sr.status, sr.engineer_id) == ("assigned", engineer.id)


def test_action_refusal_re_renders_with_the_message(console_as, make_request, db):
    sr = make_request()
    c = console_as("dispatcher")
    response = c.post(
        f"/requests/{sr.id}/do/cancel?lang=en", data={"cancel-version": sr.version, "cancel-reason": ""}
    )
    assert response.status_code == 422
    assert "Give the reason." in response.get_data(as_text=True)
    response = c.post(
        f"/requests/{sr.id}/do/unlock?lang=en", data={"unlock-version": sr.version, "unlock-reason": "x"}
    )
    assert response.status_code == 403  # a dispatcher never unlocks
    response = console_as("manager").post(
        f"/requests/{sr.id}/do/unlock?lang=en", data={"unlock-version": sr.version, "unlock-reason": "x"}
    )
    assert response.status_code == 409 and "Cannot unlock this request" in response.get_data(as_text=True)
    db.session.expire_all()
    assert sr.status == "awaiting_assignment"


def test_stale_action_shows_who_changed_what(console_as, make_request, db):
    sr = make_request()
    seen, version = db.session.scalar(sa.select(sa.func.max(RequestEvent.id))), sr.version
    other = console_as("manager")
    response = other.post(
        f"/requests/{sr.id}/do/suspend", data={"suspend-version": version, "suspend-reason": "等待客户"}
    )
    assert response.status_code == 302
    c = console_as("dispatcher")
    response = c.post(
        f"/requests/{sr.id}/do/cancel?lang=en",
        data={"cancel-version": version, "cancel-seen": seen, "cancel-reason": "客户取消"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert 'data-testid="stale"' in html and other.user.display_name in html and "等待客户" in html
    db.session.expire_all()
    assert sr.status == "suspended"


def test_problem_type_management(console_as, problem_types, db):
    c = console_as("manager")
    assert c.get("/problem-types?lang=en").status_code == 200
    response = c.post(
        "/problem-types",
        data={
            "code": "smell",
            "name_zh": "异味",
            "name_en": "Bad smell",
            "category": "repair",
            "sort_order": 5,
            "active": "y",
        },
    )
    assert response.status_code == 302
    smell = db.session.scalar(sa.select(ProblemType).where(ProblemType.code == "smell"))
    response = c.post(
        "/problem-types?lang=en", data={"code": "smell", "name_zh": "x", "name_en": "x", "category": "repair"}
    )
    assert response.status_code == 422 and "That code exists already." in response.get_data(as_text=True)
    response = c.post(
        f"/problem-types/{smell.id}/edit",
        data={
            "version": smell.version,
            "code": "smell",
            "name_zh": "异味",
            "name_en": "Smell",
            "category": "repair",
            "sort_order": 1,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (smell.name_en, smell.active) == ("Smell", False)
    assert console_as("dispatcher").get("/problem-types").status_code == 403


def test_customer_page_shows_request_history(console_as, make_request):
    sr = make_request()
    html = console_as("dispatcher").get(f"/customers/{sr.customer_id}").get_data(as_text=True)
    assert sr.number in html


def test_pages_speak_chinese_by_default(console_as, make_request):
    sr = make_request()
    c = console_as("dispatcher")
    detail = c.get(f"/requests/{sr.id}").get_data(as_text=True)
    assert "等待分配" in detail and "处理记录" in detail and "响应时限" in detail
    assert "服务请求" in c.get("/requests").get_data(as_text=True)


@pytest.mark.parametrize(
    ("action", "zh"),
    [
        ("callback_attempt", "回访未接通"),
        ("follow_up", "低分已跟进"),
        ("close_unreachable", "已关闭：无法联系客户"),
    ],
)
def test_callback_desk_events_have_translated_timeline_labels(app, action, zh):
    from flask_babel import force_locale

    from fieldservice.requests.states import action_label

    with app.test_request_context(), force_locale("zh_Hans"):
        assert action_label(action) == zh
    with app.test_request_context(), force_locale("en"):
        assert action_label(action) != action


def _kb_entry(db, make_user, symptom, category="water_purifier"):
    from fieldservice.knowledge import operations as kb

    entry = kb.create_entry(
        {
            "symptom": symptom,
            "category": category,
            "status": "published",
            "causes": [{"description": "密封圈老化", "solutions": [{"summary": "更换密封圈", "steps": []}]}],
        },
        make_user("manager"),
    )
    db.session.commit()
    return entry


def test_intake_asks_the_knowledge_base_under_the_description(db, console_as, make_user, make_equipment):
    import html
    import re
    from urllib.parse import quote

    unit = make_equipment()
    leak = _kb_entry(db, make_user, "机器底部漏水", category=unit.product.category)
    _kb_entry(db, make_user, "屏幕不亮，无法开机", category=unit.product.category)
    c = console_as("dispatcher")
    page = c.get(f"/requests/new?customer_id={unit.customer_id}&lang=en").get_data(as_text=True)
    box = re.search(r'<div class="kb-suggest-box"[^>]*>', page, re.S).group(0)
    url = html.unescape(re.search(r'hx-get="([^"]+)"', box).group(1))
    assert url == "/knowledge/suggest"
    # It sends what the dispatcher types (the description) and the chosen equipment or product.
    assert "[name=description]" in box and "[name=equipment_id]" in box and "from:[name=description]" in box
    assert page.index('name="description"') < page.index('class="kb-suggest-box"')
    fragment = c.get(
        f"{url}?description={quote('客户说机器底部一直漏水')}&equipment_id={unit.id}&lang=en"
    ).get_data(as_text=True)
    assert 'data-testid="kb-suggest"' in fragment and f'data-entry-id="{leak.id}"' in fragment
    assert "屏幕不亮" not in fragment


def test_request_page_loads_suggestions_for_its_description(db, console_as, make_user, make_request):
    import html
    import re

    entry = _kb_entry(db, make_user, "空调不制冷，室内温度高")
    sr = make_request(service_category="water_purifier")
    c = console_as("dispatcher")
    page = c.get(f"/requests/{sr.id}?lang=en").get_data(as_text=True)
    box = re.search(r'<div class="kb-suggest-box"[^>]*>', page, re.S).group(0)
    url = html.unescape(re.search(r'hx-get="([^"]+)"', box).group(1))
    assert url == f"/knowledge/suggest?request_id={sr.id}" and 'hx-trigger="load"' in box
    fragment = c.get(url).get_data(as_text=True)
    assert f'data-entry-id="{entry.id}"' in fragment


def test_the_list_opens_on_open_work_and_shows_all_on_request(db, console_as, make_request, make_user):
    open_one = make_request()
    cancelled = make_request()
    ops.perform(cancelled, "cancel", make_user("dispatcher"), cancelled.version, reason="客户取消")
    db.session.commit()
    console = console_as("dispatcher")
    default = console.get("/requests").get_data(as_text=True)
    assert open_one.number in default and cancelled.number not in default
    everything = console.get("/requests?status=all").get_data(as_text=True)
    assert open_one.number in everything and cancelled.number in everything
    only = console.get("/requests?status=cancelled").get_data(as_text=True)
    assert cancelled.number in only and open_one.number not in only


def test_intake_history_does_not_deny_a_units_warranty(console_as, make_equipment):
    """The history panel once said 'no agreement or warranty' while the preview said 保修至 for the chosen unit:
    the customer-wide line speaks of agreements only, and each unit's row says whether it is in warranty."""
    from datetime import date, timedelta

    covered = make_equipment(warranty_until=date.today() + timedelta(days=200))
    expired = make_equipment(customer=covered.customer, warranty_until=date.today() - timedelta(days=1))
    html = console_as("dispatcher").get(f"/requests/new?customer_id={covered.customer_id}&lang=en").get_data(
        as_text=True
    )
    assert "No agreement or warranty" not in html
    assert "No service agreement covers this customer now" in html
    rows = {m.group(1): m.group(2) for m in re.finditer(r"<tr><td>([^<]+)</td>.*?</td><td>(.*?)</td></tr>", html, re.S)}
    assert "In warranty" in rows[covered.serial_number] and "Out of warranty" in rows[expired.serial_number]
