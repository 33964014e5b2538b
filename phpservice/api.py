"""One shape for every error the API answers.

``{"error": {"code": "...", "message": "...", "fields": {...}}}`` — ``fields``
only for invalid input, naming each field at fault.
"""

from django.http import JsonResponse
from rest_framework import exceptions, parsers, status
from rest_framework.views import exception_handler as drf_exception_handler


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
    return response


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 to JSON nested deep enough to crash it."""

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
