"""Token endpoints: log in, refresh, revoke; and the lockout of password guessing.

Logins are limited twice: ``LOGIN_THROTTLE_RATE`` token requests per client
address, and django-axes, which counts failed logins per username and address
in the database (so every web worker sees the same count) and locks that pair
out for ``LOGIN_LOCKOUT_SECONDS`` after ``LOGIN_LOCKOUT_FAILURES`` failures.
The admin's login form is locked by the same counts.
"""

import hashlib
import logging
import math

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from drf_spectacular.utils import extend_schema

from django.contrib.auth import get_user_model
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.serializers import (
    TokenBlacklistSerializer,
    TokenObtainPairSerializer,
)
from rest_framework_simplejwt.views import TokenViewBase

from phpservice.jwt import SingleUseRefreshSerializer
from phpservice.schema import BODY_ERRORS, error_responses

logger = logging.getLogger(__name__)


class LoginLocked(exceptions.Throttled):
    """Too many failed logins for this username from this address."""

    default_code = "login_locked"

    def __init__(self, wait: float):
        super().__init__(
            wait=wait,
            detail="Too many failed logins; try again later.",
            code=self.default_code,
        )


def client_address(request) -> str | None:
    """Return the client's address, as the throttles see it.

    Behind ``NUM_PROXIES`` trusted proxies the address is taken from
    ``X-Forwarded-For``; otherwise it is the connection's own address, since a
    client can write any ``X-Forwarded-For`` it likes.
    """
    return ScopedRateThrottle().get_ident(request) or None


def username_for_log(username: str | None) -> str:
    """Return ``username`` if it names an account, otherwise a short hash of it.

    A password typed into the username field must not reach the logs.
    """
    if not username:
        return "-"
    User = get_user_model()
    if User.objects.filter(**{User.USERNAME_FIELD: username}).exists():
        return username
    digest = hashlib.sha256(username.encode("utf-8", "replace")).hexdigest()
    return f"unknown:{digest[:12]}"


def client_str(username, ip_address, user_agent, path_info, request) -> str:
    """Describe a login attempt for django-axes' own log lines."""
    return (
        f"{{username: {username_for_log(username)!r}, ip_address: {ip_address!r}, "
        f"path_info: {path_info!r}}}"
    )


def lockout_seconds() -> int:
    """Return how long a lock lasts, in whole seconds."""
    cool_off = get_cool_off()
    return math.ceil(cool_off.total_seconds()) if cool_off else 0


# The schema describes what the serializers accept: text without NUL that is
# not blank once trimmed, and tokens in the compact JWT form.
JWT_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$"
USERNAME_PATTERN = r"^[\w.@+-]+$"
NOT_BLANK_PATTERN = r"^\s*[^\s\x00][^\x00]*$"


class LoginRequestSerializer(serializers.Serializer):
    username = serializers.RegexField(USERNAME_PATTERN, max_length=150)
    password = serializers.RegexField(NOT_BLANK_PATTERN, max_length=4096)


class RefreshRequestSerializer(serializers.Serializer):
    refresh = serializers.RegexField(JWT_PATTERN, max_length=8192)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LoginView(TokenViewBase):
    """Issue an access and a refresh token for a username and password."""

    serializer_class = TokenObtainPairSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        operation_id="token_obtain",
        summary="Log in: an access and a refresh token for a username and password",
        request=LoginRequestSerializer,
        responses={200: TokenPairSerializer, **error_responses(*BODY_ERRORS, 401, 429)},
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        username = (
            request.data.get("username") if hasattr(request.data, "get") else None
        )
        credentials = {"username": username if isinstance(username, str) else None}
        if not AxesProxyHandler.is_allowed(request, credentials):
            self._log("auth.login_locked", credentials["username"], request)
            raise LoginLocked(wait=lockout_seconds())

        try:
            serializer.is_valid(raise_exception=True)
        except exceptions.AuthenticationFailed:
            # django-axes counted the failure; it marks the one that locks.
            if getattr(request, "axes_locked_out", False):
                self._log("auth.login_locked", credentials["username"], request)
                raise LoginLocked(wait=lockout_seconds()) from None
            self._log("auth.login_failed", credentials["username"], request)
            raise

        AxesProxyHandler.user_logged_in(
            sender=type(self), request=request, user=serializer.user
        )
        return Response(serializer.validated_data, status=status.HTTP_200_OK)

    @staticmethod
    def _log(event: str, username: str | None, request) -> None:
        logger.warning(
            event,
            extra={
                "username": username_for_log(username),
                "remote_addr": client_address(request),
            },
        )


class RefreshView(TokenViewBase):
    """Trade a refresh token for new tokens; the old refresh token dies."""

    serializer_class = SingleUseRefreshSerializer

    @extend_schema(
        operation_id="token_refresh",
        summary="New access and refresh tokens for a refresh token, once",
        request=RefreshRequestSerializer,
        responses={
            200: TokenPairSerializer,
            **error_responses(*BODY_ERRORS, 401),
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class RevokeView(TokenViewBase):
    """Revoke a refresh token (log out); access tokens run out on their own."""

    serializer_class = TokenBlacklistSerializer

    @extend_schema(
        operation_id="token_revoke",
        summary="Log out: revoke a refresh token",
        request=RefreshRequestSerializer,
        responses={
            200: {"type": "object", "additionalProperties": False},
            **error_responses(*BODY_ERRORS, 401),
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
