"""Bad input is a 400 or a 422 in the API's error format and changes nothing, never a 500 (issue #20, finding 4)."""

import pytest
import sqlalchemy as sa

from fieldservice.requests.models import ServiceRequest


def _raw(api, text: str):
    return api.post("/api/v1/requests", data=text, headers={"Content-Type": "application/json"})


def _count(db) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRequest))


def _error(answer, status: int, code: str | None = None) -> dict:
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    error = answer.get_json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def test_the_valid_body_is_taken(db, intake):
    api, body = intake
    assert api.post("/api/v1/requests", json=body).status_code == 201
    assert _count(db) == 1


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("description", "漏水\x00", "NUL"),
        ("description", "\ud800", "surrogate"),
        ("priority", 10**20, "range"),
    ],
)
def test_unstorable_values_are_422_naming_the_field(db, intake, field, value, problem):
    api, body = intake
    error = _error(api.post("/api/v1/requests", json={**body, field: value}), 422, "validation_failed")
    assert field in error["fields"] and problem.lower() in error["fields"][field].lower()
    assert _count(db) == 0


def test_an_integer_of_5000_digits_is_malformed_json(db, intake):
    api, _body = intake
    _error(_raw(api, '{"priority": 1' + "0" * 5000 + "}"), 400, "malformed_json")
    assert _count(db) == 0


def test_json_nested_a_thousand_deep_is_400(db, intake):
    api, _body = intake
    _error(_raw(api, '{"description": ' + "[" * 1000 + "]" * 1000 + "}"), 400, "too_deep")
    assert _count(db) == 0


def test_ids_beyond_the_integer_range(db, intake):
    api, body = intake
    _error(api.get("/api/v1/requests/99999999999"), 404)
    _error(api.post("/api/v1/requests", json={**body, "customer_id": 99_999_999_999}), 422)
    listed = api.get("/api/v1/requests?customer_id=99999999999")
    if db.engine.dialect.name == "postgresql":
        _error(listed, 422, "invalid_value")
    else:
        assert listed.status_code == 200 and listed.get_json()["items"] == []
    assert _count(db) == 0


def test_a_unique_key_lost_to_a_concurrent_writer_is_409_and_other_refusals_stay_500(app, db, make_user):
    """An operation checks a unique key before it inserts; two writers can both pass the check, and the database
    refuses the second. That is a 409 in the error format (the engineers' race test drives a real one); a refusal
    of another kind (a missing value) is a fault of ours and is not dressed up as a conflict."""
    from sqlalchemy.exc import IntegrityError

    from fieldservice.auth.models import User
    from fieldservice.core.errors import _handle_integrity_error, is_unique_violation

    make_user("dispatcher", username="taken")

    def refusal(**values) -> IntegrityError:
        with pytest.raises(IntegrityError) as caught:
            db.session.execute(sa.insert(User).values(role="dispatcher", name="x", **values))
        db.session.rollback()
        return caught.value

    duplicate = refusal(username="taken", password_hash="x")
    missing = refusal(username="fresh", password_hash=None)
    assert is_unique_violation(duplicate) and not is_unique_violation(missing)
    with app.test_request_context("/api/v1/engineers", method="POST", headers={"Accept": "application/json"}):
        response = _handle_integrity_error(duplicate)
        assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
        with pytest.raises(IntegrityError):
            _handle_integrity_error(missing)
