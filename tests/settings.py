"""Settings for the test run: the environment a deployment would give.

Tests run with DEBUG off, so every required setting is given here, as a
deployment would. DATABASE_URL is left alone: MariaDB when it is set (as in
CI), the SQLite default otherwise.
"""

import os
import tempfile

TEST_ENVIRONMENT = {
    "DEBUG": "0",
    "SECRET_KEY": "test-secret-key-3f1c9a7e5b2d4c6a8e0f1a2b3c4d5e6f",
    "JWT_SIGNING_KEY": "test-jwt-signing-key-9d8c7b6a5f4e3d2c1b0a9f8e7d6c",
    "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    "SALES_API_URL": "http://127.0.0.1:9/sales",
    "BILL_API_URL": "http://127.0.0.1:9/bill",
    "CUSTOM_API_URL": "http://127.0.0.1:9/custom",
    "PIPELINE_BACKOFF_BASE_SECONDS": "0.05",
    "PIPELINE_BACKOFF_MAX_SECONDS": "0.5",
    "PIPELINE_MAX_ATTEMPTS": "4",
    "BILL_API_READ_TIMEOUT": "1",
    "CUSTOM_API_READ_TIMEOUT": "1",
    "SALES_API_READ_TIMEOUT": "2",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    # The test client and the live servers speak plain HTTP.
    "SECURE_SSL_REDIRECT": "0",
}
for name, value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(name, value)
os.environ.setdefault("LOG_DIR", tempfile.mkdtemp(prefix="phpservice-test-logs-"))

from phpservice.settings import *  # noqa: E402, F403
from phpservice.settings import DATABASES  # noqa: E402

# Hashing passwords the production way costs a second a login; tests log in
# often and prove nothing about hashing.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file rather than memory: the fault tests run workers in processes of
    # their own, which must see the test database too.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(
            tempfile.mkdtemp(prefix="phpservice-test-db-"), "test.sqlite3"
        )
    }
