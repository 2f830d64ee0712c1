"""Every API endpoint × every role: an answer in API.md's error format or a success, never a 500.

The role rules themselves are tested per domain; this matrix makes sure no endpoint, old or new, breaks down for a
role nobody thought of, or for an empty body.
"""

import pytest

from fieldservice.auth.models import Role
from tests.test_core.test_api_contract import _api_rules

# The endpoints that end the caller's own login (or all its others) run last, each with a login of its own, so
# that the rest of the matrix keeps a working token.
ENDS_LOGINS = [
    ("DELETE", "/api/v1/auth/sessions/1"),
    ("POST", "/api/v1/auth/sessions/end-others"),
    ("POST", "/api/v1/auth/logout"),
]
RULES = sorted(set(_api_rules()) - set(ENDS_LOGINS)) + ENDS_LOGINS
ALLOWED = {200, 201, 204, 400, 403, 404, 409, 422}


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_endpoint_answers_every_role_without_a_server_error(api_as, role):
    api = api_as(role)
    broken = []
    for method, path in RULES:
        if (method, path) in ENDS_LOGINS:
            api = api_as(user=api.user)
        try:
            response = api._call(method.lower(), path, json={})
        except Exception as exc:  # TESTING propagates exceptions: each one would have been a 500
            broken.append((method, path, type(exc).__name__))
            continue
        if response.status_code not in ALLOWED:
            broken.append((method, path, response.status_code))
        elif response.status_code >= 400:
            body = response.get_json(silent=True) or {}
            if set(body.get("error", {})) < {"code", "message", "fields"}:
                broken.append((method, path, response.status_code, "not the error format"))
        response.close()
    assert not broken, broken
