"""The customer's messages per step, in the customer's language: English msgids, Chinese in the catalog."""

from flask_babel import force_locale
from flask_babel import gettext as _

EVENTS = ("created", "assigned", "on_the_way", "resolved", "revisited", "reopened")


def render(event: str, locale: str, **ctx) -> tuple[str, str]:
    """(subject, body) of *event*'s message in *locale*; ctx: number, engineer, report_url."""
    with force_locale(locale):
        subject = _("Service request %(number)s", number=ctx["number"])
        if event == "created":
            body = _(
                "We have logged your service request %(number)s and will assign an engineer soon.", **ctx
            )
        elif event == "assigned":
            body = _("Engineer %(engineer)s will handle your service request %(number)s.", **ctx)
        elif event == "on_the_way":
            body = _("Engineer %(engineer)s is on the way to you for service request %(number)s.", **ctx)
        elif event == "resolved":
            body = _(
                "Service request %(number)s has been resolved. Your service report: %(report_url)s", **ctx
            )
        elif event == "revisited":
            body = _("Thank you for your feedback on service request %(number)s.", **ctx)
        elif event == "reopened":
            body = _(
                "We are sorry the problem is not solved. We will send an engineer again for %(number)s.",
                **ctx,
            )
        else:
            raise ValueError(f"unknown notification event {event!r}")
    return subject, body
