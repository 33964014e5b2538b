"""JWT as RFC 8725 asks: every token that must be refused is refused with 401."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from django.conf import settings
from rest_framework_simplejwt import state
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from phpservice.jwt import SingleUseRefreshSerializer
from tests.factories import make_order
from tests.security.conftest import PASSWORD, ec_key_pair, make_user, rsa_key_pair

pytestmark = pytest.mark.django_db

LEEWAY = settings.SIMPLE_JWT["LEEWAY"]


@pytest.fixture
def user(db):
    return make_user("jwt-user", is_staff=True)


@pytest.fixture
def order(db):
    return make_order()


@pytest.fixture
def get_status(api_client, order):
    """Return a function asking GET /status with the given Authorization."""

    def get(authorization: str | None):
        headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        return api_client.get("/status", {"order_id": order.order_id}, **headers)

    return get


def claims(user, **overrides) -> dict:
    """Return the claims of a valid access token for ``user``, with overrides."""
    payload = dict(AccessToken.for_user(user).payload)
    payload["aud"] = settings.SIMPLE_JWT["AUDIENCE"]
    payload["iss"] = settings.SIMPLE_JWT["ISSUER"]
    payload.update(overrides)
    return {name: value for name, value in payload.items() if value is not None}


def hs256(payload: dict, key: str | None = None) -> str:
    return jwt.encode(payload, key or settings.JWT_SIGNING_KEY, algorithm="HS256")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_refused(response, error="invalid_token"):
    assert response.status_code == 401, response.content
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api"')
    assert f'error="{error}"' in challenge
    assert set(response.json()["error"]) >= {"code", "message"}


def test_a_valid_token_is_accepted(get_status, user):
    assert get_status(f"Bearer {hs256(claims(user))}").status_code == 200


def test_alg_none_is_refused(get_status, user):
    token = jwt.encode(claims(user), None, algorithm="none")

    assert token.endswith(".")
    assert_refused(get_status(f"Bearer {token}"))


def test_another_hmac_algorithm_is_refused(get_status, user):
    token = jwt.encode(claims(user), settings.JWT_SIGNING_KEY * 2, algorithm="HS512")

    assert_refused(get_status(f"Bearer {token}"))


def test_tampered_payload_is_refused(get_status, user):
    other = make_user("someone-else", is_staff=True)
    header, _payload, signature = hs256(claims(user)).split(".")
    forged = b64(json.dumps(claims(other)).encode())

    assert_refused(get_status(f"Bearer {header}.{forged}.{signature}"))


def test_token_signed_with_another_key_is_refused(get_status, user):
    token = hs256(
        claims(user),
        key="another-key-of-at-least-32-bytes-0123456789-0123456789-abcdefgh",
    )

    assert_refused(get_status(f"Bearer {token}"))


def test_expired_token_is_refused_beyond_the_leeway(get_status, user):
    now = int(time.time())
    expired = hs256(claims(user, exp=now - LEEWAY - 2))
    within_leeway = hs256(claims(user, exp=now - 1))

    assert_refused(get_status(f"Bearer {expired}"))
    assert get_status(f"Bearer {within_leeway}").status_code == 200


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_token_from_the_future_is_refused_beyond_the_leeway(get_status, user, claim):
    now = int(time.time())
    too_early = hs256(claims(user, **{claim: now + LEEWAY + 60}))
    within_leeway = hs256(claims(user, **{claim: now + 1}))

    assert_refused(get_status(f"Bearer {too_early}"))
    assert get_status(f"Bearer {within_leeway}").status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "another-api"},
        {"iss": "another-issuer"},
        {"aud": None},
        {"iss": None},
        {"exp": None},
        {"jti": None},
        {"token_type": None},
        {"hash_password": "0" * 32},
    ],
    ids=[
        "wrong-aud",
        "wrong-iss",
        "no-aud",
        "no-iss",
        "no-exp",
        "no-jti",
        "no-type",
        "old-password",
    ],
)
def test_token_with_wrong_or_missing_claims_is_refused(get_status, user, overrides):
    assert_refused(get_status(f"Bearer {hs256(claims(user, **overrides))}"))


def test_refresh_token_is_no_access_token(get_status, user):
    refresh = RefreshToken.for_user(user)

    assert_refused(get_status(f"Bearer {refresh}"))


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        ("bearer x", "invalid_token"),
        ("Bearer x", "invalid_token"),
        ("JWT x", "invalid_request"),
        ("Basic dXNlcjpwYXNz", "invalid_request"),
        ("x", "invalid_request"),
        ("Bearer", "invalid_request"),
        ("Bearer a b", "invalid_request"),
    ],
)
def test_malformed_authorization_is_refused(get_status, authorization, error):
    assert_refused(get_status(authorization), error=error)


def test_no_token_is_challenged_without_an_error(get_status):
    response = get_status(None)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"]["code"] == "not_authenticated"


def test_scheme_is_case_insensitive(get_status, user):
    assert get_status(f"bearer {hs256(claims(user))}").status_code == 200


# --- users that went away -----------------------------------------------------


def login(api_client, username) -> dict:
    response = api_client.post(
        "/auth/token", {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(api_client, token):
    return api_client.post("/auth/token/refresh", {"refresh": token}, format="json")


def test_deactivated_user_can_neither_use_nor_refresh(api_client, get_status, user):
    tokens = login(api_client, user.username)
    user.is_active = False
    user.save()

    assert_refused(get_status(f"Bearer {tokens['access']}"))
    answer = refresh(api_client, tokens["refresh"])
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "no_active_account"


def test_deleted_user_can_neither_use_nor_refresh(api_client, get_status, user):
    tokens = login(api_client, user.username)
    user.delete()

    assert_refused(get_status(f"Bearer {tokens['access']}"))
    answer = refresh(api_client, tokens["refresh"])
    # simplejwt's own serializer answered 500 here (User.DoesNotExist).
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "no_active_account"


def test_password_change_ends_earlier_tokens(api_client, get_status, user):
    tokens = login(api_client, user.username)
    user.set_password("a-new-password-9f3k")
    user.save()

    assert_refused(get_status(f"Bearer {tokens['access']}"))
    assert refresh(api_client, tokens["refresh"]).status_code == 401


def test_rotated_refresh_token_cannot_be_reused(api_client, get_status, user):
    tokens = login(api_client, user.username)

    first = refresh(api_client, tokens["refresh"])
    reused = refresh(api_client, tokens["refresh"])
    second = refresh(api_client, first.json()["refresh"])

    assert first.status_code == 200
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_not_valid"
    assert second.status_code == 200
    assert get_status(f"Bearer {second.json()['access']}").status_code == 200


def test_a_refresh_token_blacklisted_meanwhile_gives_nothing(api_client, user):
    # Two requests racing with one token: the loser finds it blacklisted by
    # the winner between its own check and its own blacklisting.
    token = RefreshToken(login(api_client, user.username)["refresh"])
    token.blacklist()

    serializer = SingleUseRefreshSerializer()
    serializer.token_class = type(
        "RacingRefreshToken", (RefreshToken,), {"check_blacklist": lambda self: None}
    )

    with pytest.raises(TokenError, match="blacklisted"):
        serializer.validate({"refresh": str(token)})


def test_revoked_refresh_token_is_refused(api_client, user):
    tokens = login(api_client, user.username)

    revoked = api_client.post(
        "/auth/token/revoke", {"refresh": tokens["refresh"]}, format="json"
    )

    assert revoked.status_code == 200
    assert revoked.json() == {}
    assert refresh(api_client, tokens["refresh"]).status_code == 401


# --- RS256 and ES256 ------------------------------------------------------------


@pytest.fixture
def asymmetric(monkeypatch):
    """Switch token signing to a key pair; return (algorithm, private, public)."""

    def use(algorithm, private_pem, public_pem):
        backend = TokenBackend(
            algorithm,
            private_pem,
            public_pem,
            settings.SIMPLE_JWT["AUDIENCE"],
            settings.SIMPLE_JWT["ISSUER"],
            None,
            LEEWAY,
        )
        monkeypatch.setattr(state, "token_backend", backend)
        return backend

    return use


@pytest.mark.parametrize(
    ("algorithm", "pair"), [("RS256", rsa_key_pair), ("ES256", ec_key_pair)]
)
def test_key_pair_tokens_work_end_to_end(
    api_client, get_status, user, asymmetric, algorithm, pair
):
    private_pem, public_pem = pair()
    asymmetric(algorithm, private_pem, public_pem)

    tokens = login(api_client, user.username)

    assert jwt.get_unverified_header(tokens["access"])["alg"] == algorithm
    assert get_status(f"Bearer {tokens['access']}").status_code == 200
    assert refresh(api_client, tokens["refresh"]).status_code == 200


def test_hs256_signed_with_the_rs256_public_key_is_refused(
    get_status, user, asymmetric
):
    private_pem, public_pem = rsa_key_pair()
    asymmetric("RS256", private_pem, public_pem)
    # The classic confusion attack: the public key, known to all, as HMAC key.
    # PyJWT refuses to make such a token, so it is made by hand.
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims(user)).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(public_pem.encode(), signing_input, hashlib.sha256).digest()

    assert_refused(get_status(f"Bearer {header}.{payload}.{b64(signature)}"))
    assert_refused(get_status(f"Bearer {hs256(claims(user))}"))
