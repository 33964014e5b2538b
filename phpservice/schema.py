"""The OpenAPI schema at ``/api/schema`` and Swagger UI at ``/api/docs``.

Both are for back-office staff: anyone may read them with ``DEBUG`` on, only
staff users (by bearer token or by their admin session) with it off. Swagger
UI's files come from drf-spectacular-sidecar through ``STATIC_URL``, never
from a CDN, and its page runs under a Content-Security-Policy of its own.
"""

from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from django.conf import settings
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission

from phpservice.jwt import BearerJWTAuthentication

ERROR_REF = {"$ref": "#/components/schemas/Error"}

# The one error shape of phpservice.api, as an OpenAPI component.
ERROR_COMPONENT = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "not_found"},
                "message": {"type": "string", "example": "No order 123456."},
                "fields": {
                    "type": "object",
                    "description": "Invalid input only: the messages per field.",
                    "additionalProperties": {
                        "type": "array",
                        "items": {"type": "string"},
                    },
                },
            },
        }
    },
}

ERROR_DESCRIPTIONS = {
    400: "Invalid input, or a body that is not valid JSON.",
    401: "No token, or a bad, expired or revoked one (WWW-Authenticate: Bearer).",
    404: "No such order, or one the caller may not see.",
    409: "A request with this Idempotency-Key is still being carried out.",
    413: "The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE.",
    415: "The body is not application/json.",
    422: "The Idempotency-Key was used for another order or channel.",
    429: "Too many requests, or too many failed logins: wait Retry-After seconds.",
    503: "The channel is not configured; the message names what to set.",
}

# Every POST endpoint reads a JSON body.
BODY_ERRORS = (400, 413, 415)

# Swagger UI needs its own files, inline styles and data: images, nothing else.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Return schema responses in the error shape for each status code."""
    return {
        code: OpenApiResponse(response=ERROR_REF, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


def add_error_component(result, generator, request, public):
    """Add the error shape to the schema's components (a postprocessing hook)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = (
        ERROR_COMPONENT
    )
    return result


class IsStaffUnlessDebug(BasePermission):
    """Let anyone in with DEBUG on; only staff users with it off."""

    def has_permission(self, request, view) -> bool:
        if settings.DEBUG:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class SchemaView(SpectacularAPIView):
    """Serve the OpenAPI 3 schema to staff."""

    authentication_classes = [BearerJWTAuthentication, SessionAuthentication]
    permission_classes = [IsStaffUnlessDebug]


class SwaggerView(SpectacularSwaggerSplitView):
    """Serve Swagger UI to staff; its init script is a file, not inline."""

    authentication_classes = [BearerJWTAuthentication, SessionAuthentication]
    permission_classes = [IsStaffUnlessDebug]
    url_name = "api-schema"

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200:
            response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response
