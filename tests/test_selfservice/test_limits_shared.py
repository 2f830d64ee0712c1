"""The public page's rate limits are counted in Redis: two web processes share them."""

import pytest

from fieldservice import create_app
from fieldservice.extensions import db as _db
from fieldservice.selfservice import operations as ops
from fieldservice.selfservice.views import LIMITS


@pytest.mark.redis
def test_limits_hold_across_two_web_processes(worker_app, app_config, redis_url, make_equipment, problem_types):
    equipment = make_equipment()
    token = ops.label_token(equipment)
    _db.session.commit()
    other = create_app({**app_config, "REDIS_URL": redis_url})
    first, second = worker_app.test_client(), other.test_client()
    per_phone = LIMITS["code-phone"][0]
    for n in range(per_phone):
        client = first if n % 2 == 0 else second
        assert client.post(f"/e/{token}/code", json={"phone": "13912345678"}).status_code == 202
    # Both processes refuse the next one: the count is shared, not per process.
    for client in (first, second):
        answer = client.post(f"/e/{token}/code?lang=en", json={"phone": "13912345678"})
        assert answer.status_code == 429
        assert answer.json["error"]["code"] == "too_many_requests" and "Retry-After" in answer.headers
    # Wrong tokens (guesses) are counted per address across processes too.
    misses = LIMITS["miss"][0]
    for n in range(misses):
        assert (first if n % 2 else second).get(f"/e/wrong-{n}").status_code == 404
    assert first.get("/e/wrong-again").status_code == 429
    assert second.get("/e/wrong-once-more").status_code == 429
    # The budget of guesses is only for guesses: the unit's own label still opens its page.
    assert second.get(f"/e/{token}").status_code == 200
    with other.app_context():
        _db.session.remove()
        _db.engine.dispose()
