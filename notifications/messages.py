"""What a customer is told: the texts of the email and the SMS."""

from dataclasses import dataclass

from django.template.loader import render_to_string

from orders.models import Order

# Two UCS-2 segments (Cyrillic text) carry 2 × 67 characters.
SMS_MAX_CHARS = 134


@dataclass
class EmailContent:
    subject: str
    text: str
    html: str


def _context(order: Order) -> dict:
    return {
        "order": order,
        "status_label": order.get_status_display(),
        "amount": order.amount,
    }


def email_content(order: Order) -> EmailContent:
    """Return the Russian subject and bodies telling the order's status."""
    context = _context(order)
    return EmailContent(
        subject=" ".join(
            render_to_string("notifications/email_subject.txt", context).split()
        ),
        text=render_to_string("notifications/email_body.txt", context),
        html=render_to_string("notifications/email_body.html", context),
    )


def sms_text(order: Order) -> str:
    """Return a short Russian SMS, at most two segments long."""
    text = " ".join(render_to_string("notifications/sms.txt", _context(order)).split())
    if len(text) > SMS_MAX_CHARS:
        text = text[: SMS_MAX_CHARS - 1].rstrip() + "…"
    return text
