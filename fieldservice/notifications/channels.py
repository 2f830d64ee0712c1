"""Delivery channels, pluggable: a channel turns one Notification into a message sent by a provider.

register_channel(name, factory) adds one; factory() returns a Channel or None when it is not configured here.
A channel raises DeliveryError on failure; `retryable=False` means trying again cannot help (a refused
address).
"""

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid

from fieldservice.notifications.settings import int_setting, setting

log = logging.getLogger("fieldservice.notifications")


class DeliveryError(Exception):
    def __init__(self, message: str, retryable: bool = True, status_code: int | None = None):
        super().__init__(message)
        self.retryable, self.status_code = retryable, status_code


class Channel(ABC):
    name = ""

    @abstractmethod
    def address_of(self, customer, sr) -> str | None:
        """Where this channel reaches the request's customer, or None."""

    @abstractmethod
    def send(self, notification) -> str:
        """Send; return the provider's id of the message."""


class EmailChannel(Channel):
    name = "email"

    def __init__(self, host: str):
        self.host = host

    def address_of(self, customer, sr) -> str | None:
        return customer.email or None

    def send(self, notification) -> str:
        message = EmailMessage()
        message["From"] = setting("FIELDSERVICE_SMTP_FROM")
        message["To"] = notification.recipient
        message["Subject"] = notification.subject
        # The same Message-ID on every try: a receiving server (and the customer's client) drops a repeat.
        message["Message-ID"] = make_msgid(idstring=f"notification-{notification.id}", domain="fieldservice")
        message.set_content(notification.body)
        try:
            with smtplib.SMTP(
                self.host,
                int_setting("FIELDSERVICE_SMTP_PORT"),
                timeout=int_setting("FIELDSERVICE_HTTP_TIMEOUT"),
            ) as smtp:
                if setting("FIELDSERVICE_SMTP_STARTTLS") in ("1", True, "true"):
                    smtp.starttls(context=ssl.create_default_context())
                if setting("FIELDSERVICE_SMTP_USER"):
                    smtp.login(setting("FIELDSERVICE_SMTP_USER"), setting("FIELDSERVICE_SMTP_PASSWORD") or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", retryable=False) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP: {exc}") from exc
        return message["Message-ID"]


class HttpProviderChannel(Channel):
    """SMS or WeChat through a provider's HTTP API: POST JSON {to, subject, text, idempotency_key}.

    A 2xx answer (with an optional {"id": ...}) is a success; 4xx but 408/429 is final; the rest retried."""

    def __init__(self, name: str, url: str, token: str | None):
        self.name, self.url, self.token = name, url, token

    def address_of(self, customer, sr) -> str | None:
        return (sr.contact_phone or customer.phone or "").strip() or None

    def send(self, notification) -> str:
        body = {
            "to": notification.recipient,
            "subject": notification.subject,
            "text": notification.body,
            "idempotency_key": f"notification-{notification.id}",
        }
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"notification-{notification.id}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        status, answer = post_json(self.url, json.dumps(body, ensure_ascii=False).encode(), headers)
        try:
            return str(json.loads(answer or b"{}").get("id") or status)
        except (ValueError, AttributeError):
            return str(status)


class LogChannel(Channel):
    """Where messages go when no provider is configured (development, the demo): the app's log."""

    name = "log"

    def address_of(self, customer, sr) -> str | None:
        return customer.email or sr.contact_phone or customer.phone or customer.name

    def send(self, notification) -> str:
        log.info("notification %s to %s: %s", notification.id, notification.recipient, notification.subject)
        return f"log-{notification.id}"


def post_json(url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    """POST *body*; return (status, answer) on 2xx, raise DeliveryError otherwise."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=int_setting("FIELDSERVICE_HTTP_TIMEOUT")) as response:
            return response.status, response.read(65536)
    except urllib.error.HTTPError as exc:
        exc.close()
        final = 400 <= exc.code < 500 and exc.code not in (408, 429)
        raise DeliveryError(f"HTTP {exc.code}", retryable=not final, status_code=exc.code) from exc
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


def _email():
    host = setting("FIELDSERVICE_SMTP_HOST")
    return EmailChannel(host) if host else None


def _http(name: str):
    def factory():
        url = setting(f"FIELDSERVICE_{name.upper()}_URL")
        return HttpProviderChannel(name, url, setting(f"FIELDSERVICE_{name.upper()}_TOKEN")) if url else None

    return factory


CHANNELS: dict[str, Callable[[], Channel | None]] = {}


def register_channel(name: str, factory: Callable[[], Channel | None]) -> None:
    CHANNELS[name] = factory


register_channel("email", _email)
register_channel("sms", _http("sms"))
register_channel("wechat", _http("wechat"))


def active_channels() -> list[Channel]:
    """The configured channels; the log channel when none is."""
    channels = [channel for factory in CHANNELS.values() if (channel := factory()) is not None]
    return channels or [LogChannel()]


def channel_named(name: str) -> Channel:
    if name == "log":
        return LogChannel()
    factory = CHANNELS.get(name)
    channel = factory() if factory else None
    if channel is None:
        raise DeliveryError(f"channel {name} is not configured", retryable=True)
    return channel
