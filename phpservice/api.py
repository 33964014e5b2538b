"""One shape for every error the API answers.

``{"error": {"code": "...", "message": "...", "fields": {...}}}`` — ``fields``
only for invalid input, naming each field at fault.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from rest_framework import exceptions, parsers, status
from rest_framework.views import exception_handler as drf_exception_handler

# The RFC 6750 error of a refused bearer token, by our error code; any code
# not listed is an invalid token. Wrong credentials at login name no token.
BEARER_ERRORS = {
    "bad_authorization_header": "invalid_request",
    "no_active_account": None,
}


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        if "detail" in detail:
            return _first_message(detail["detail"])
        return "; ".join(
            f"{key}: {_first_message(value)}" for key, value in detail.items()
        )
    if isinstance(detail, list):
        return " ".join(_first_message(item) for item in detail)
    return str(detail)


def _code_of(exc: exceptions.APIException) -> str:
    # simplejwt puts its own code ("user_inactive") in a detail dict.
    if isinstance(exc.detail, dict) and isinstance(exc.detail.get("code"), str):
        return str(exc.detail["code"])
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict) and isinstance(codes.get("code"), str):
        return codes["code"]
    return exc.default_code


def exception_handler(exc, context):
    """Answer any API error in the service's one error shape."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django logs it and answers 500

    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        fields = {
            name: [str(message) for message in messages]
            if isinstance(messages, list)
            else [_first_message(messages)]
            for name, messages in exc.detail.items()
        }
        body = {
            "code": "invalid",
            "message": "Invalid input: " + _first_message(exc.detail),
            "fields": fields,
        }
    elif isinstance(exc, exceptions.APIException):
        body = {"code": _code_of(exc), "message": _first_message(exc.detail)}
    else:
        body = {"code": "error", "message": _first_message(response.data)}
    response.data = {"error": body}
    error = BEARER_ERRORS.get(body["code"], "invalid_token")
    if (
        "WWW-Authenticate" in response
        and isinstance(exc, exceptions.AuthenticationFailed)
        and error
    ):
        # RFC 6750 §3.1: tell a client with a bad token from one without any.
        response["WWW-Authenticate"] += f', error="{error}"'
    return response


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 to JSON nested deep enough to crash it.

    DRF reads a JSON body through ``request.body``, so Django refuses one over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` before it gets here (see ``bad_request``).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as err:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from err


def _error(code: str, message: str, http_status: int) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message}}, status=http_status
    )


def bad_request(request, exception=None):
    """Answer a request Django refused (bad Host, body too large) with JSON."""
    if isinstance(exception, RequestDataTooBig):
        return _error(
            "request_too_large",
            "The request body is larger than "
            f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return _error("bad_request", "The request could not be accepted.", 400)


def forbidden(request, exception=None):
    """Answer a refused request with JSON instead of an HTML page."""
    return _error("forbidden", "Not allowed.", 403)


def not_found(request, exception=None):
    """Answer an unknown URL with JSON instead of an HTML page."""
    return _error("not_found", "No such endpoint.", status.HTTP_404_NOT_FOUND)


def server_error(request):
    """Answer an unexpected failure with JSON; the traceback is in the logs."""
    return _error(
        "server_error",
        "Internal error; it has been logged.",
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
