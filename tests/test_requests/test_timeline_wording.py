"""The timeline speaks the reader's language: system notes are stored as codes, and entries read in time order."""

from datetime import timedelta

import pytest

from fieldservice.core.models import utcnow
from fieldservice.requests import operations as ops


def _timeline(api, sr, language):
    return api.get(f"/api/v1/requests/{sr.id}/events", headers={"Accept-Language": language}).get_json()


def test_the_sweeps_notes_are_codes_worded_for_each_reader(db, make_request, api_as):
    start = utcnow() - timedelta(days=2)
    sr = make_request(now=start, required_by=start + timedelta(days=1))
    ops.sweep_requests(utcnow())
    db.session.commit()
    stored = next(e for e in ops.timeline(sr) if e.action == "lock")
    assert stored.note is None and stored.data["note_code"] == "lock"  # no sentence in any language is stored

    api = api_as("manager")
    zh = next(e for e in _timeline(api, sr, "zh-CN") if e["action"] == "lock")
    en = next(e for e in _timeline(api, sr, "en") if e["action"] == "lock")
    assert en["note"] == "No engineer was assigned by the customer's required date."
    assert zh["note"] == "到客户要求的日期仍未派工。"
    assert (zh["actor"], en["actor"]) == ("系统", "System")


def test_a_sentence_stored_before_notes_were_codes_is_worded_too(db, make_request, api_as):
    sr = make_request()
    ops.add_event(sr, "response_breach", None, sr.status, sr.status, note="Not responded to by the response due time.")
    db.session.commit()
    zh = next(e for e in _timeline(api_as("manager"), sr, "zh-CN") if e["action"] == "response_breach")
    assert zh["note"] == "超过响应时限仍未响应。"


def test_a_persons_note_is_shown_as_typed(db, make_request, make_user, api_as):
    sr = make_request()
    person = make_user("dispatcher")
    # Even a person who types the system's sentence sees their own words, not a translation.
    ops.add_event(sr, "note", person, sr.status, sr.status, note="Not responded to by the response due time.")
    db.session.commit()
    zh = next(e for e in _timeline(api_as("manager"), sr, "zh-CN") if e["action"] == "note")
    assert zh["note"] == "Not responded to by the response due time."
    assert zh["actor"] == person.display_name


def test_an_unknown_system_note_is_refused():
    from fieldservice.requests.states import note_data

    with pytest.raises(ValueError):
        note_data("no_such_note")


def test_entries_read_in_the_order_they_happened(db, make_request, make_user, console_as):
    """An entry made offline at 04:47 and synced at 05:17 is listed before the entries made between."""
    sr = make_request(now=utcnow() - timedelta(hours=3))
    dispatcher = make_user("dispatcher")
    ops.add_event(sr, "note", dispatcher, sr.status, sr.status, note="second", at=utcnow() - timedelta(minutes=30))
    ops.add_event(sr, "note", dispatcher, sr.status, sr.status, note="first", at=utcnow() - timedelta(hours=1))
    db.session.commit()
    notes = [e.note for e in ops.timeline(sr) if e.action == "note"]
    assert notes == ["first", "second"]
    page = console_as("manager").get(f"/requests/{sr.id}").get_data(as_text=True)
    assert page.index('<p class="note">first') < page.index('<p class="note">second')
