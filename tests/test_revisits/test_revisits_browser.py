"""The callback desk in real Chromium: the agent works the queue (a failed call, then a survey with a low
score that raises a follow-up the manager closes), a dissatisfied customer sends the request back, the third
failed call closes it as unreachable."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.models import utcnow

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


def _request(db, sr):
    from fieldservice.requests.models import ServiceRequest

    db.session.expire_all()
    return db.session.get(ServiceRequest, sr.id)


def _rows(db, model, **where):
    db.session.expire_all()
    return db.session.scalars(sa.select(model).filter_by(**where)).all()


def _open_call(page, live_server, sr):
    page.goto(live_server.url + "/revisits")
    page.locator(f"[data-testid=callback-queue] tr[data-request='{sr.id}']").get_by_role(
        "link", name="Call"
    ).click()
    page.wait_for_url(f"**/revisits/{sr.id}")


def test_failed_call_then_low_score_survey_raises_a_follow_up_the_manager_closes(
    live_server, browser, db, make_resolved, callback_agent, make_user
):
    from fieldservice.revisits.models import CallbackAttempt, FollowUp

    older = make_resolved(finished_at=utcnow() - timedelta(days=3))
    newer = make_resolved()
    page = _log_in(browser, live_server, callback_agent.username)
    page.goto(live_server.url + "/revisits")
    rows = page.locator("[data-testid=callback-queue] tbody tr")
    assert [rows.nth(i).get_attribute("data-request") for i in range(rows.count())] == [
        str(older.id),
        str(newer.id),
    ]
    assert "Overdue" in rows.nth(0).inner_text() and "Overdue" not in rows.nth(1).inner_text()

    _open_call(page, live_server, older)
    assert page.locator("[data-testid=contact-phone]").inner_text() == "13912345678"
    page.select_option("select[name=reason]", "busy")
    page.fill("input[name=note]", "下午再打")
    page.click("[data-testid=attempt-form] button[type=submit]")
    page.wait_for_selector(".flash-success")
    assert "下午再打" in page.locator("[data-testid=attempts]").inner_text()
    assert [a.reason for a in _rows(db, CallbackAttempt, request_id=older.id)] == ["busy"]
    assert _request(db, older).status == "resolved"

    survey = page.locator("[data-testid=survey-form]")
    survey.locator("input[name=satisfied][value=yes]").check()
    survey.locator("input[name=timeliness][value='2']").check()
    survey.locator("input[name=attitude][value='5']").check()
    survey.locator("input[name=quality][value='4']").check()
    survey.locator("textarea[name=comment]").fill("师傅来晚了两个小时")
    survey.locator("button[type=submit]").click()
    page.wait_for_url("**/revisits")
    assert page.locator(f"[data-testid=callback-queue] tr[data-request='{older.id}']").count() == 0
    assert _request(db, older).status == "revisited"
    (follow_up,) = _rows(db, FollowUp, request_id=older.id)
    assert follow_up.low_scores == {"timeliness": 2} and follow_up.status == "open"
    assert page.get_by_role("link", name="Follow-ups").count() == 0  # the agent does not handle them

    manager = make_user("manager")
    mgr = _log_in(browser, live_server, manager.username)
    mgr.goto(live_server.url + "/revisits/follow-ups")
    card = mgr.locator(f"[data-follow-up='{follow_up.id}']")
    assert "Timeliness 2" in card.inner_text() and "师傅来晚了两个小时" in card.inner_text()
    card.locator("button[type=submit]").click()  # closing needs a word on what was done
    mgr.wait_for_load_state()
    assert mgr.locator(
        f"[data-follow-up='{follow_up.id}'] .error, [data-follow-up='{follow_up.id}'] .flash-error"
    ).first.is_visible()
    assert _rows(db, FollowUp, id=follow_up.id)[0].status == "open"
    mgr.locator(f"[data-follow-up='{follow_up.id}'] textarea[name=outcome]").fill(
        "已致电客户致歉，调整该片区排班"
    )
    mgr.locator(f"[data-follow-up='{follow_up.id}'] button[type=submit]").click()
    mgr.wait_for_selector(".flash-success")
    done = _rows(db, FollowUp, id=follow_up.id)[0]
    assert (done.status, done.done_by_id, done.outcome) == (
        "done",
        manager.id,
        "已致电客户致歉，调整该片区排班",
    )


def test_an_incomplete_survey_is_refused_and_a_dissatisfied_one_sends_the_request_back(
    live_server, browser, db, make_resolved, callback_agent
):
    from fieldservice.requests.models import Survey

    sr = make_resolved()
    page = _log_in(browser, live_server, callback_agent.username)
    _open_call(page, live_server, sr)
    survey = page.locator("[data-testid=survey-form]")
    survey.locator("input[name=satisfied][value=no]").check()
    survey.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=survey-form] .error").first.is_visible()
    assert _request(db, sr).status == "resolved" and _rows(db, Survey, request_id=sr.id) == []

    survey = page.locator("[data-testid=survey-form]")
    survey.locator("input[name=satisfied][value=no]").check()
    for name in ("timeliness", "attitude", "quality"):
        survey.locator(f"input[name={name}][value='4']").check()
    survey.locator("textarea[name=comment]").fill("还是漏水")
    survey.locator("button[type=submit]").click()
    page.wait_for_url("**/revisits")
    assert sr.number in page.locator(".flash-warning").inner_text()
    assert _request(db, sr).status == "awaiting_assignment"


def test_the_last_failed_call_closes_the_request_as_unreachable(
    live_server, browser, db, make_resolved, callback_agent
):
    from fieldservice.revisits.models import UnreachableClosing

    sr = make_resolved()
    page = _log_in(browser, live_server, callback_agent.username)
    _open_call(page, live_server, sr)
    for n in range(3):
        assert f"Attempts so far: {n} of 3" in page.locator("main").inner_text()
        page.select_option("select[name=reason]", "no_answer")
        page.click("[data-testid=attempt-form] button[type=submit]")
        page.wait_for_selector(".flash-success, .flash-warning")
    page.wait_for_url("**/revisits")
    assert sr.number in page.locator(".flash-warning").inner_text()
    assert page.locator(f"[data-testid=callback-queue] tr[data-request='{sr.id}']").count() == 0
    (closing,) = _rows(db, UnreachableClosing, request_id=sr.id)
    assert closing.attempts == 3 and closing.by_id == callback_agent.id
    assert _request(db, sr).status == "revisited"
    page.goto(live_server.url + f"/revisits/{sr.id}")
    assert page.locator("[data-testid=unreachable]").is_visible()
    page.goto(live_server.url + "/revisits/unreachable")
    assert sr.number in page.locator("main").inner_text()
