"""Console pages of dispatch: the board per role, assigning by hand, automatic dispatch from the board, performance,
the home card."""

import re
from datetime import timedelta

from fieldservice.core.models import utcnow
from fieldservice.requests.models import ServiceRequest


def text(response) -> str:
    return response.get_data(as_text=True)


def test_anonymous_goes_to_the_login(client):
    response = client.get("/dispatch")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _locked_request(db, request_factory):
    from fieldservice.requests import operations as rops

    sr = request_factory(now=utcnow() - timedelta(days=1), hours=1)
    rops.sweep_requests(utcnow())
    db.session.commit()
    assert sr.status == "locked"
    return sr


def test_board_lists_waiting_and_locked_requests_by_urgency(console_as, db, engineer_factory, request_factory):
    engineer_factory(name="张建国")
    later = request_factory(priority=4, hours=200)
    sooner = request_factory(priority=2, hours=30)
    locked = _locked_request(db, request_factory)
    assigned = request_factory()
    from fieldservice.requests import operations as rops

    rops.perform(assigned, "assign", console_as("manager").user, None, engineer_id=engineer_factory().id)
    db.session.commit()

    html = text(console_as("dispatcher").get("/dispatch?lang=en"))
    order = re.findall(r'data-testid="board-row-([^"]+)"', html)
    assert order == [locked.number, sooner.number, later.number]
    assert assigned.number not in html
    assert "张建国" in html
    # A dispatcher may not assign a locked request: the manager does.
    assert f'data-testid="assign-{locked.number}"' not in html
    assert f'data-testid="assign-{sooner.number}"' in html
    manager_html = text(console_as("manager").get("/dispatch"))
    assert f'data-testid="assign-{locked.number}"' in manager_html


def test_board_filters_by_zone_and_category(console_as, engineer_factory, request_factory):
    engineer_factory(skills=["water_purifier", "elevator"])
    pudong = request_factory(zone="浦东")
    jiading = request_factory(zone="嘉定")
    lift = request_factory(zone="浦东", category="elevator")
    dispatcher = console_as("dispatcher")
    html = text(dispatcher.get("/dispatch?zone=浦东"))
    assert pudong.number in html and lift.number in html and jiading.number not in html
    html = text(dispatcher.get("/dispatch/board?category=elevator"))
    assert lift.number in html and pudong.number not in html


def test_board_says_why_nobody_is_offered(console_as, engineer_factory, request_factory):
    engineer_factory(skills=["water_purifier"])
    lift = request_factory(category="elevator")
    html = text(console_as("dispatcher").get("/dispatch?lang=en"))
    row = html[html.index(f'data-testid="board-row-{lift.number}"') :]
    assert "No active engineer has the skill" in row[: row.index("</tr>")]


def test_assign_by_hand(console_as, db, engineer_factory, request_factory):
    engineer = engineer_factory()
    sr = request_factory()
    dispatcher = console_as("dispatcher")
    response = dispatcher.post(
        f"/dispatch/requests/{sr.id}/assign", data={"engineer_id": engineer.id, "version": sr.version}
    )
    assert response.status_code == 302
    db.session.expire_all()
    sr = db.session.get(ServiceRequest, sr.id)
    assert sr.status == "assigned" and sr.engineer_id == engineer.id
    assert sr.events[-1].actor_id == dispatcher.user.id


def test_two_dispatchers_on_the_board_one_gets_409(console_as, db, engineer_factory, request_factory):
    first, second = engineer_factory(), engineer_factory()
    sr = request_factory()
    one, two = console_as("dispatcher"), console_as("dispatcher")
    form = {"version": sr.version}
    assert one.post(f"/dispatch/requests/{sr.id}/assign", data={**form, "engineer_id": first.id}).status_code == 302
    late = two.post(f"/dispatch/requests/{sr.id}/assign?lang=en", data={**form, "engineer_id": second.id})
    assert late.status_code == 409
    assert "was not assigned" in text(late)
    # Through htmx the refreshed board carries the refusal.
    again = two.post(
        f"/dispatch/requests/{sr.id}/assign?lang=en",
        data={**form, "engineer_id": second.id},
        headers={"HX-Request": "true"},
    )
    assert again.status_code == 200 and again.headers["X-Assign-Status"] == "409"
    assert 'id="board"' in text(again) and "<html" not in text(again)
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).engineer_id == first.id


def test_assign_without_an_engineer_is_refused(console_as, db, request_factory):
    sr = request_factory()
    response = console_as("dispatcher").post(f"/dispatch/requests/{sr.id}/assign", data={"version": sr.version})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).status == "awaiting_assignment"


def test_auto_dispatch_from_the_board(console_as, db, engineer_factory, request_factory):
    engineer = engineer_factory(name="李明辉")
    sr = request_factory()
    lift = request_factory(category="elevator")
    dispatcher = console_as("dispatcher")
    proposal = dispatcher.post("/dispatch/auto?lang=en", data={"apply": "0"})
    assert proposal.status_code == 200
    html = text(proposal)
    assert "proposal" in html and "李明辉" in html and 'data-testid="auto-confirm"' in html
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).status == "awaiting_assignment"

    applied = text(dispatcher.post("/dispatch/auto?lang=en", data={"apply": "1"}))
    assert "applied" in applied and "km" in applied
    unassigned = applied[applied.index('data-testid="auto-unassigned"') :]
    assert lift.number in unassigned and "No active engineer has the skill" in unassigned
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr.id).engineer_id == engineer.id


def test_auto_dispatch_keeps_to_the_filtered_view(console_as, db, engineer_factory, request_factory):
    engineer_factory(skills=["water_purifier", "elevator"])
    pudong, jiading = request_factory(zone="浦东"), request_factory(zone="嘉定")
    console_as("dispatcher").post("/dispatch/auto", data={"apply": "1", "zone": "浦东"})
    db.session.expire_all()
    assert db.session.get(ServiceRequest, pudong.id).status == "assigned"
    assert db.session.get(ServiceRequest, jiading.id).status == "awaiting_assignment"


def test_performance_page(console_as, engineer_factory):
    engineer_factory(name="吴涛")
    html = text(console_as("manager").get("/engineers/performance?from=2026-11-01&to=2026-11-30&lang=en"))
    assert "吴涛" in html and "Team" in html and "2026-11-01" in html


def test_home_card_counts_the_waiting_requests(console_as, request_factory):
    request_factory()
    request_factory()
    html = text(console_as("dispatcher").get("/home?lang=en"))
    card = html[html.index("Waiting for an engineer") - 300 :]
    assert "/dispatch" in card and ">2<" in card.replace(" ", "")
    assert "Waiting for an engineer" not in text(console_as("callback").get("/home?lang=en"))


def test_the_profile_shows_the_jobs_held_and_the_figures(console_as, engineer_factory, request_factory, assign):
    engineer = engineer_factory()
    held = assign(request_factory(), engineer)
    request_factory()
    html = text(console_as("manager").get(f"/engineers/{engineer.id}?lang=en"))
    jobs = html[html.index('data-testid="engineer-jobs"') :]
    assert jobs.count("<tr><td>") == 1 and held.number in jobs
    assert "Completion rate" in html and "Last 30 days" in html
