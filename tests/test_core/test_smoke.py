def test_health(client):
    # The tests run jobs inline: no Redis to check.
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok", "redis": "not configured"}


def test_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["info"]["title"] == "fieldservice"
    assert "/api/v1/customers" in doc["paths"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_favicon_is_served(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200 and response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
