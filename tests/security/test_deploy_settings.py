"""Production settings: `check --deploy` is clean, headers are set, paths move."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.conftest import access_header, ec_key_pair, rsa_key_pair

BASE_DIR = Path(__file__).resolve().parents[2]


def production_environment(tmp_path, **overrides) -> dict:
    """Return the environment of a production deployment, nothing from tests."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "phpservice.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "orders.example.com",
        "SALES_API_URL": "https://sales.example.com/api",
        "BILL_API_URL": "https://bill.example.com/api",
        "CUSTOM_API_URL": "https://custom.example.com/api",
        "MAILGUN_API_KEY": secrets.token_hex(16),
        "MAILGUN_SENDER_DOMAIN": "mg.example.com",
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO_FROM_NUMBER": "+15005550006",
        "LOG_DIR": str(tmp_path / "logs"),
    }
    if "DATABASE_URL" in os.environ:
        environment["DATABASE_URL"] = os.environ["DATABASE_URL"]
    environment.update(overrides)
    return {name: value for name, value in environment.items() if value is not None}


def run(environment, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check_deploy(environment) -> subprocess.CompletedProcess:
    return run(environment, "manage.py", "check", "--deploy", "--fail-level", "DEBUG")


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    result = check_deploy(production_environment(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    ("algorithm", "pair"), [("RS256", rsa_key_pair), ("ES256", ec_key_pair)]
)
def test_check_deploy_is_clean_with_a_key_pair(tmp_path, algorithm, pair):
    private_pem, public_pem = pair()
    (tmp_path / "private.pem").write_text(private_pem)
    (tmp_path / "public.pem").write_text(public_pem)
    environment = production_environment(
        tmp_path,
        JWT_ALGORITHM=algorithm,
        JWT_SIGNING_KEY=None,
        JWT_PRIVATE_KEY_FILE=str(tmp_path / "private.pem"),
        JWT_PUBLIC_KEY_FILE=str(tmp_path / "public.pem"),
    )

    result = check_deploy(environment)

    assert result.returncode == 0, result.stdout + result.stderr


def settings_error(tmp_path, **overrides) -> str:
    result = check_deploy(production_environment(tmp_path, **overrides))
    assert result.returncode != 0
    return result.stderr.strip().splitlines()[-1]


def test_allowed_hosts_is_required(tmp_path):
    assert "ALLOWED_HOSTS" in settings_error(tmp_path, ALLOWED_HOSTS=None)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"JWT_SIGNING_KEY": "short"}, "at least 32 bytes"),
        ({"JWT_ALGORITHM": "none"}, "use HS256, RS256 or ES256"),
        ({"JWT_ALGORITHM": "HS512"}, "use HS256, RS256 or ES256"),
        ({"JWT_ALGORITHM": "RS256"}, "JWT_PUBLIC_KEY_FILE"),
        ({"ADMIN_URL_PATH": "/admin"}, "ADMIN_URL_PATH"),
        ({"ADMIN_URL_PATH": "api/admin/"}, "ADMIN_URL_PATH"),
    ],
)
def test_unsafe_settings_stop_the_start(tmp_path, overrides, problem):
    assert problem in settings_error(tmp_path, **overrides)


def test_key_files_must_be_one_pair(tmp_path):
    (tmp_path / "private.pem").write_text(rsa_key_pair()[0])
    (tmp_path / "public.pem").write_text(rsa_key_pair()[1])

    problem = settings_error(
        tmp_path,
        JWT_ALGORITHM="RS256",
        JWT_PRIVATE_KEY_FILE=str(tmp_path / "private.pem"),
        JWT_PUBLIC_KEY_FILE=str(tmp_path / "public.pem"),
    )

    assert "not one key pair" in problem


def test_weak_rsa_key_is_refused(tmp_path):
    private_pem, public_pem = rsa_key_pair(bits=1024)
    (tmp_path / "private.pem").write_text(private_pem)
    (tmp_path / "public.pem").write_text(public_pem)

    problem = settings_error(
        tmp_path,
        JWT_ALGORITHM="RS256",
        JWT_PRIVATE_KEY_FILE=str(tmp_path / "private.pem"),
        JWT_PUBLIC_KEY_FILE=str(tmp_path / "public.pem"),
    )

    assert "at least 2048" in problem


def test_admin_path_is_configurable(tmp_path):
    environment = production_environment(tmp_path, ADMIN_URL_PATH="back-office-7f3/")

    result = run(
        environment,
        "-c",
        "import django; django.setup(); from django.urls import reverse; "
        "print(reverse('admin:index'))",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/back-office-7f3/"


# --- headers on API answers -------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["anonymous", "operator"])
def test_api_answers_carry_the_security_headers(api_client, accounts, role):
    response = api_client.get(
        "/status", {"order_id": "1"}, secure=True, **access_header(accounts[role])
    )

    assert response.status_code in (401, 404)
    assert response["Content-Type"] == "application/json"
    assert response["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
def test_tokens_are_never_cached(api_client, accounts):
    response = api_client.post(
        "/auth/token",
        {"username": "operator", "password": "pw-Ax8!mQ2z#"},
        format="json",
        secure=True,
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_plain_http_is_redirected_unless_the_proxy_says_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    plain = client.get("/status?order_id=1")
    behind_proxy = client.get("/status?order_id=1", HTTP_X_FORWARDED_PROTO="https")

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/status?order_id=1"
    assert behind_proxy.status_code == 401
