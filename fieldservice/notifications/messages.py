"""The customer's messages per step, in the customer's language: English msgids, Chinese in the catalog."""

import re
from functools import lru_cache

from flask_babel import force_locale
from flask_babel import gettext as _

EVENTS = (
    "created",
    "assigned",
    "on_the_way",
    "resolved",
    "revisited",
    "reopened",
    "appointment_booked",
    "appointment_changed",
    "appointment_missed",
    "fresh_link",
    "verification_code",
)
# Messages that carry a secret (a one-time code): once sent or given up, the stored copy has it masked (scrub), so
# the console's message list and a backup show no working code.
SECRET_EVENTS = frozenset({"verification_code"})
_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


def scrub(text: str) -> str:
    return _CODE.sub("******", text)


# What a stored message carries where the customer's link goes: the link is put in when the message is sent
# (operations._send), so the outbox, the console's message list and a backup hold no customer token.
CUSTOMER_LINK = "[customer-link]"


def render(event: str, locale: str, **ctx) -> tuple[str, str]:
    """(subject, body) of *event*'s message in *locale*; ctx: number, engineer, report_url, window."""
    subject, body = _templates(event, locale)
    return subject % ctx, body % ctx


@lru_cache(maxsize=64)
def _templates(event: str, locale: str) -> tuple[str, str]:
    """The translated templates of *event*'s message (the catalogs do not change while the process runs: a
    batch of changes looks each one up once)."""
    with force_locale(locale):
        subject = _("Service request %(number)s")
        if event == "verification_code":
            # The code in the subject too: the log channel (development, the demo) writes subjects only.
            subject = _("Your verification code: %(code)s")
            body = _("Your verification code is %(code)s. It is valid for 10 minutes. Do not share it.")
        elif event == "created":
            body = _("We have logged your service request %(number)s and will assign an engineer soon.")
        elif event == "assigned":
            body = _("Engineer %(engineer)s will handle your service request %(number)s.")
        elif event == "on_the_way":
            body = _("Engineer %(engineer)s is on the way to you for service request %(number)s.")
        elif event == "resolved":
            body = _("Service request %(number)s has been resolved. Your service report: %(report_url)s")
        elif event == "fresh_link":
            body = _("Your new link to service request %(number)s: %(report_url)s")
        elif event == "revisited":
            body = _("Thank you for your feedback on service request %(number)s.")
        elif event == "reopened":
            body = _(
                "We are sorry the problem is not solved. We will send an engineer again for %(number)s.",
            )
        elif event == "appointment_booked":
            body = _("Engineer %(engineer)s will visit you for service request %(number)s on %(window)s.")
        elif event == "appointment_changed":
            body = _("The visit for service request %(number)s has moved to %(window)s (engineer %(engineer)s).")
        elif event == "appointment_missed":
            body = _("Missed appointment: nobody arrived for service request %(number)s in the window %(window)s.")
        else:
            raise ValueError(f"unknown notification event {event!r}")
    return subject, body
