"""Helpers for driving the sandbox's Mailgun and Twilio with the real SDKs."""

import hashlib
import hmac
import re

import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from django.core.mail import EmailMultiAlternatives
from django.test import override_settings

MAILGUN_KEY = "sandbox-mailgun-key"
SIGNING_KEY = "sandbox-mailgun-signing-key"
ACCOUNT_SID = "ACsandbox0000000000000000000000000"
AUTH_TOKEN = "sandbox-twilio-token"
SENDER_DOMAIN = "mg.example.com"
SUBJECT = "Заказ 123456: статус «отправлен»"
TEXT = "Здравствуйте, Иван!\nВаш заказ 123456 отправлен. ☕\n"
HTML = "<p>Здравствуйте, Иван!</p><p>Заказ <b>123456</b> отправлен.</p>"
SMS_BODY = "Заказ 123456 отправлен"
MAILGUN_ID = re.compile(r"<\d{14}\.\d+\.[0-9A-F]{16}@mg\.example\.com>")


def mailgun_settings(server, key=MAILGUN_KEY, timeout=5):
    return override_settings(
        EMAIL_BACKEND="anymail.backends.mailgun.EmailBackend",
        ANYMAIL={
            "MAILGUN_API_KEY": key,
            "MAILGUN_SENDER_DOMAIN": SENDER_DOMAIN,
            "MAILGUN_API_URL": f"{server.url}/mailgun/v3",
            "REQUESTS_TIMEOUT": timeout,
        },
    )


def email(to="Иван Иванов <ivan@example.com>", **kwargs) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=SUBJECT,
        body=TEXT,
        from_email=f"Служба заказов <orders@{SENDER_DOMAIN}>",
        to=[to],
        **kwargs,
    )
    message.attach_alternative(HTML, "text/html")
    return message


def send_email(server, message=None, **settings) -> EmailMultiAlternatives:
    message = message or email()
    with mailgun_settings(server, **settings):
        message.send()
    return message


class SandboxHttpClient(TwilioHttpClient):
    """Send the twilio client's requests to the sandbox instead of Twilio."""

    def __init__(self, base_url: str):
        super().__init__(timeout=5)
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        url = url.replace("https://api.twilio.com", self.base_url, 1)
        return super().request(method, url, *args, **kwargs)


def twilio_client(server, sid=ACCOUNT_SID, token=AUTH_TOKEN) -> Client:
    return Client(sid, token, http_client=SandboxHttpClient(f"{server.url}/twilio"))


def send_sms(server, to="+79991234567", body=SMS_BODY, **kwargs):
    kwargs.setdefault("from_", "+15005550006")
    return twilio_client(server).messages.create(to=to, body=body, **kwargs)


def deliver(server, **request) -> requests.Response:
    return requests.post(server.url + "/_sandbox/deliver", json=request, timeout=5)


def mailgun_signature_valid(block: dict, key: str = SIGNING_KEY) -> bool:
    expected = hmac.new(
        key.encode(), (block["timestamp"] + block["token"]).encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, block["signature"])
