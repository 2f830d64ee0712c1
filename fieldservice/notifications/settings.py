"""The domain's settings: the app's config first (tests pass theirs), then the environment.

FIELDSERVICE_SMTP_HOST / _PORT / _USER / _PASSWORD / _FROM / _STARTTLS    e-mail
FIELDSERVICE_SMS_URL / FIELDSERVICE_SMS_TOKEN                            SMS through an HTTP provider
FIELDSERVICE_WECHAT_URL / FIELDSERVICE_WECHAT_TOKEN                      WeChat through an HTTP provider
FIELDSERVICE_NOTIFY_LOCALE        the customers' language (zh_Hans; en)
FIELDSERVICE_OUTBOX_MAX_ATTEMPTS  tries before giving up (8); FIELDSERVICE_OUTBOX_BACKOFF first wait in s (30)
FIELDSERVICE_OUTBOX_LEASE         s a claimed message is left to its worker before another sends it (300)
"""

import os

from flask import current_app

DEFAULTS = {
    "FIELDSERVICE_SMTP_PORT": "25",
    "FIELDSERVICE_SMTP_FROM": "service@fieldservice.local",
    "FIELDSERVICE_NOTIFY_LOCALE": "zh_Hans",
    "FIELDSERVICE_OUTBOX_MAX_ATTEMPTS": "8",
    "FIELDSERVICE_OUTBOX_BACKOFF": "30",
    "FIELDSERVICE_OUTBOX_BACKOFF_MAX": "3600",
    "FIELDSERVICE_HTTP_TIMEOUT": "10",
    "FIELDSERVICE_OUTBOX_LEASE": "300",
}


def setting(name: str, default=None):
    value = current_app.config.get(name)
    if value is None:
        value = os.environ.get(name, DEFAULTS.get(name, default))
    return value


def int_setting(name: str) -> int:
    return int(setting(name))
