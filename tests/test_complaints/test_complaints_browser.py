"""Complaints in real Chromium: a dispatcher logs a phone complaint, a manager assigns a handler, the handler
works it and closes it with the outcome and the customer's word; refused steps say why and change nothing."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.browser


def _log_in(browser, live_server, username):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password123")
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")
    return page


def _complaint(db, complaint_id=None):
    from fieldservice.complaints.models import Complaint

    db.session.expire_all()
    if complaint_id is None:
        return db.session.scalars(sa.select(Complaint)).one()
    return db.session.get(Complaint, complaint_id)


def _step(page, action, **fields):
    form = page.locator(f"[data-testid=action-{action}]")
    for name, value in fields.items():
        control = form.locator(f"[name={name}]").first
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        elif control.get_attribute("type") == "radio":
            form.locator(f"input[name={name}][value='{value}']").check()
        else:
            control.fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def _status(page):
    return page.locator("[data-testid=complaint-status]").get_attribute("data-status")


def test_log_assign_handle_and_close_with_the_outcome(live_server, browser, db, make_user, make_customer):
    from fieldservice.complaints.models import ComplaintAction

    customer = make_customer(name="静安区瑞金养老院")
    make_user("dispatcher", username="lina")
    manager = make_user("manager", username="wangjl")
    handler = make_user("callback", username="chenhf", name="陈慧芳")

    page = _log_in(browser, live_server, "lina")
    page.goto(live_server.url + f"/complaints/new?customer_id={customer.id}")
    page.select_option("select[name=channel]", "phone")
    page.select_option("select[name=kind]", "timeliness")
    page.select_option("select[name=severity]", "high")
    page.fill("input[name=summary]", "约好上午上门，下午三点才到")
    page.fill("textarea[name=description]", "客户称等了一上午，工程师未提前告知迟到")
    page.click("main button[type=submit]")
    page.wait_for_url("**/complaints/*")
    complaint = _complaint(db)
    assert page.locator(".flash-success").inner_text() == f"Complaint {complaint.number} logged."
    assert "静安区瑞金养老院" in page.locator("main").inner_text()
    assert (complaint.status, complaint.customer_id, complaint.kind, complaint.severity) == (
        "open",
        customer.id,
        "timeliness",
        "high",
    )
    assert complaint.due_at - complaint.created_at == timedelta(hours=24)

    mgr = _log_in(browser, live_server, "wangjl")
    mgr.goto(live_server.url + "/complaints")
    mgr.get_by_role("link", name=complaint.number).click()
    mgr.wait_for_url(f"**/complaints/{complaint.id}")
    _step(mgr, "assign", handler_id=str(handler.id), note="请尽快回访")
    assert mgr.locator("[data-testid=handler]").inner_text().startswith("陈慧芳")
    assert _status(mgr) == "assigned" and _complaint(db, complaint.id).handler_id == handler.id

    desk = _log_in(browser, live_server, "chenhf")
    desk.goto(live_server.url + f"/complaints/{complaint.id}")
    assert desk.locator("[data-testid=action-assign]").count() == 0  # the callback desk does not assign
    _step(desk, "start")
    assert _status(desk) == "in_progress"
    _step(desk, "act", kind="call", note="已电话致歉，说明交通原因")
    _step(
        desk,
        "close",
        outcome="向客户致歉并赠送一次免费滤芯更换",
        customer_feedback="客户表示接受",
        customer_satisfied="yes",
    )
    assert desk.locator(".flash-success").is_visible() and _status(desk) == "closed"
    body = desk.locator("main").inner_text()
    assert "赠送一次免费滤芯更换" in body and "Customer accepts" in body
    timeline = desk.locator("[data-testid=complaint-timeline] li")
    assert [timeline.nth(i).get_attribute("data-action") for i in range(timeline.count())] == [
        "create",
        "assign",
        "start",
        "act",
        "close",
    ]

    closed = _complaint(db, complaint.id)
    assert (closed.status, closed.outcome, closed.customer_feedback, closed.customer_satisfied) == (
        "closed",
        "向客户致歉并赠送一次免费滤芯更换",
        "客户表示接受",
        True,
    )
    assert closed.closed_at is not None
    actions = db.session.scalars(
        sa.select(ComplaintAction.action).where(ComplaintAction.complaint_id == complaint.id)
    ).all()
    assert sorted(actions) == sorted(["create", "assign", "start", "act", "close"])
    assert (
        db.session.scalar(
            sa.select(ComplaintAction.actor_id).where(
                ComplaintAction.complaint_id == complaint.id, ComplaintAction.action == "assign"
            )
        )
        == manager.id
    )


def test_a_complaint_without_summary_is_not_logged(live_server, browser, db, make_user):
    from fieldservice.complaints.models import Complaint

    make_user("dispatcher", username="lina")
    page = _log_in(browser, live_server, "lina")
    page.goto(live_server.url + "/complaints/new")
    page.fill("textarea[name=description]", "客户来电投诉")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=complaint-form] .error").first.is_visible()
    assert page.locator("textarea[name=description]").input_value() == "客户来电投诉"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Complaint)) == 0


def test_closing_needs_the_outcome_and_a_stale_page_is_refused(
    live_server, browser, db, make_user, complaint_body
):
    from fieldservice.complaints import operations as ops

    manager = make_user("manager", username="wangjl")
    complaint = ops.create_complaint(complaint_body(), manager)
    db.session.commit()
    ops.perform(complaint, "assign", manager, complaint.version, handler_id=manager.id)
    db.session.commit()
    ops.perform(complaint, "start", manager, complaint.version)
    db.session.commit()
    version = complaint.version

    page = _log_in(browser, live_server, "wangjl")
    page.goto(live_server.url + f"/complaints/{complaint.id}")
    _step(page, "close", customer_feedback="客户不满意")
    assert page.locator(
        "[data-testid=action-close] .error, [data-testid=action-close] .flash-error"
    ).first.is_visible()
    fresh = _complaint(db, complaint.id)
    assert (fresh.status, fresh.version, fresh.outcome) == ("in_progress", version, None)

    # Meanwhile a colleague hands it over: the open page's close form now carries an old version.
    colleague = make_user("dispatcher", username="lina")
    ops.perform(fresh, "assign", manager, fresh.version, handler_id=colleague.id)
    db.session.commit()
    _step(page, "close", outcome="更换工程师重新上门", customer_feedback="客户接受")
    assert page.locator("[data-testid=action-close] .flash-error").is_visible()
    assert "lina" in page.locator("[data-testid=handler]").inner_text()  # the page shows the change
    fresh = _complaint(db, complaint.id)
    assert (fresh.status, fresh.handler_id, fresh.outcome) == ("in_progress", colleague.id, None)
    # The refused form was reloaded with the current version: sending it again closes the complaint.
    page.locator("[data-testid=action-close] button[type=submit]").click()
    page.wait_for_load_state()
    assert _status(page) == "closed"
    assert _complaint(db, complaint.id).outcome == "更换工程师重新上门"
