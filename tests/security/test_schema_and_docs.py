"""The OpenAPI schema and Swagger UI: staff only, assets from the package."""

import re

import pytest

from django.contrib.staticfiles import finders

from tests.security.conftest import access_header

pytestmark = pytest.mark.django_db


def test_staff_gets_an_openapi_3_schema_of_every_api_endpoint(api_client, accounts):
    response = api_client.get(
        "/api/schema",
        HTTP_ACCEPT="application/vnd.oai.openapi+json",
        **access_header(accounts["staff"]),
    )

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/auth/token",
        "/auth/token/refresh",
        "/auth/token/revoke",
        "/status",
        "/notify",
    }
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    status = schema["paths"]["/status"]["get"]
    assert set(status["responses"]) == {"200", "400", "401", "404"}
    assert status["security"] == [{"bearerAuth": []}]
    assert "security" not in schema["paths"]["/auth/token"]["post"]


def test_staff_admin_session_opens_the_docs(client, accounts):
    client.force_login(accounts["staff"])

    assert client.get("/api/docs").status_code == 200
    assert client.get("/api/schema").status_code == 200


@pytest.mark.parametrize("role", ["customer_a", "operator"])
def test_non_staff_sessions_are_refused(client, accounts, role):
    client.force_login(accounts[role])

    assert client.get("/api/schema").status_code == 403
    assert client.get("/api/docs").status_code == 403


def test_with_debug_anyone_may_read_them(api_client, settings):
    settings.DEBUG = True

    assert api_client.get("/api/schema").status_code == 200
    assert api_client.get("/api/docs").status_code == 200


def test_swagger_ui_comes_from_the_sidecar_package_not_a_cdn(api_client, accounts):
    page = api_client.get("/api/docs", **access_header(accounts["staff"]))

    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    for asset in assets:
        assert asset.startswith("/"), asset  # same origin, nothing external
    files = [a for a in assets if a.startswith("/static/")]
    assert {a.rsplit("/", 1)[1] for a in files} >= {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    }
    for asset in files:
        assert finders.find(asset.removeprefix("/static/")), asset
    assert "drf_spectacular_sidecar" in html
    assert "cdn" not in html.lower()


def test_docs_run_under_a_strict_content_security_policy(api_client, accounts):
    bearer = access_header(accounts["staff"])

    page = api_client.get("/api/docs", **bearer)
    script = api_client.get("/api/docs?script=", **bearer)

    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-eval" not in policy
    assert "<script>" not in page.content.decode()  # no inline script
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema" in script.content.decode()
