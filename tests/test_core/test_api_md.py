"""The fixed part of the API (../shared/API.md) is all there, and documented in the OpenAPI document."""

import pytest

FIXED = [
    ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/customers"),
    ("post", "/api/v1/products"),
    ("post", "/api/v1/equipment"),
    ("post", "/api/v1/contracts"),
    ("post", "/api/v1/engineers"),
    ("post", "/api/v1/requests"),
    ("get", "/api/v1/requests"),
    ("get", "/api/v1/requests/{request_id}"),
    ("get", "/api/v1/requests/{request_id}/events"),
    ("post", "/api/v1/requests/{request_id}/visits"),
    ("get", "/api/v1/requests/{request_id}/report"),
    ("post", "/api/v1/sync"),
    ("get", "/api/v1/sync"),
    ("post", "/api/v1/dispatch/auto"),
]
ACTIONS = ["assign", "suspend", "resume", "unlock", "cancel", "claim", "urge", "revisit"]


@pytest.fixture(scope="module")
def spec():
    from fieldservice import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://", "REDIS_URL": None})
    return app.test_client().get("/api/v1/openapi.json").get_json()


def _documented(spec, method, path):
    # Path parameters may carry other names in the code (<int:id>); compare the shape.
    def shape(p):
        return [("{}" if part.startswith("{") else part) for part in p.strip("/").split("/")]

    for documented, operations in spec["paths"].items():
        if shape(documented) == shape(path) and method in operations:
            return True
        # one route for several actions: /requests/{id}/{action}
        if (
            "{action}" in documented
            and method in operations
            and len(shape(documented)) == len(shape(path))
            and all(a == b or a == "{}" for a, b in zip(shape(documented), shape(path), strict=True))
        ):
            return True
    return False


@pytest.mark.parametrize(("method", "path"), FIXED + [("post", f"/api/v1/requests/{{id}}/{a}") for a in ACTIONS])
def test_the_fixed_api_is_there(spec, method, path):
    assert _documented(spec, method, path), f"{method.upper()} {path} is missing from /api/v1/openapi.json"
