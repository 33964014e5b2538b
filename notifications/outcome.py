"""The result of handing a notification to a provider."""

from dataclasses import dataclass

import requests
from urllib3.exceptions import NewConnectionError

from notifications.models import NotificationStatus


@dataclass
class SendOutcome:
    """What the provider said: accepted (with its id), refused, or nothing."""

    status: str
    provider_message_id: str = ""
    error_code: str = ""
    error_message: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == NotificationStatus.SENT


class InvalidRecipient(ValueError):
    """The order's email or phone cannot be used; nothing was sent."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def outcome_of_transport_error(error, *, provider: str) -> SendOutcome:
    """Return the outcome of a call that got no HTTP answer.

    When no connection was made nothing was sent, and the notification has
    failed. Otherwise the provider may have acted on it: the outcome is
    unknown, and the message must not be sent again blindly.
    """
    reason = getattr(error.args[0], "reason", None) if error and error.args else None
    if isinstance(error, requests.ConnectTimeout) or isinstance(
        reason, NewConnectionError
    ):
        return SendOutcome(
            status=NotificationStatus.FAILED,
            error_code="unreachable",
            error_message=f"{provider} could not be reached; nothing was sent",
        )
    return SendOutcome(
        status=NotificationStatus.UNKNOWN,
        error_code="timeout" if isinstance(error, requests.Timeout) else "no_answer",
        error_message=f"{provider} did not answer; the message may have been sent, "
        "so it is not sent again automatically",
    )
