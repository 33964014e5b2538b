"""Bearer JWT authentication of the API and the rotation of refresh tokens.

simplejwt decodes and checks each token: the one pinned algorithm, the
signature, ``exp``, ``iat`` and ``nbf`` within the leeway, ``aud``, ``iss``, the
token type and the blacklist. This module adds what it leaves open: the
``Authorization`` scheme is read case-insensitively and any scheme but Bearer is
refused, and a refresh token works once only, for an active user.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import HTTP_HEADER_ENCODING
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

BEARER = "Bearer"


class BearerJWTAuthentication(JWTAuthentication):
    """Authenticate ``Authorization: Bearer <access token>``.

    The scheme is matched without regard to case (RFC 7235 §2.1). A header with
    another scheme (``JWT x``, ``Basic x``) or none (``x``) is refused rather
    than ignored, so that a client sending the token wrongly learns why.
    """

    www_authenticate_realm = "api"

    def authenticate_header(self, request) -> str:
        return f'{BEARER} realm="{self.www_authenticate_realm}"'

    def get_raw_token(self, header: bytes) -> bytes | None:
        parts = header.split()
        if not parts:
            return None
        scheme = parts[0].decode(HTTP_HEADER_ENCODING, "replace")
        if scheme.lower() != BEARER.lower() or len(parts) != 2:
            raise AuthenticationFailed(
                _("Send the access token as 'Authorization: Bearer <token>'."),
                code="bad_authorization_header",
            )
        return parts[1]


class BearerJWTScheme(OpenApiAuthenticationExtension):
    """Describe ``BearerJWTAuthentication`` in the OpenAPI schema."""

    target_class = BearerJWTAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="HTTP_AUTHORIZATION", token_prefix=BEARER, bearer_format="JWT"
        )


class SingleUseRefreshSerializer(TokenRefreshSerializer):
    """Trade a refresh token for a new access and refresh token, once.

    The user must still exist, be active and have the password the token was
    issued under. The old token is blacklisted before new ones are made; of
    two requests racing with the same token only the first gets new tokens.
    """

    default_error_messages = {
        "no_active_account": _("No active account found for the given token.")
    }

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])
        self._check_user(refresh)

        _blacklisted, first_use = refresh.blacklist()
        if not first_use:
            raise TokenError(_("Token is blacklisted"))

        data = {"access": str(refresh.access_token)}
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        data["refresh"] = str(refresh)
        return data

    def _check_user(self, refresh) -> None:
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        user = (
            get_user_model()
            .objects.filter(**{api_settings.USER_ID_FIELD: user_id})
            .first()
            if user_id is not None
            else None
        )
        revoked = (
            api_settings.CHECK_REVOKE_TOKEN
            and user is not None
            and (
                refresh.payload.get(api_settings.REVOKE_TOKEN_CLAIM)
                != get_md5_hash_password(user.password)
            )
        )
        if revoked or not api_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            )
