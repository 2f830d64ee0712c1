"""Panels that higher domains add to a lower domain's page: the customer's page shows agreements, requests and
complaints; the agreement's page shows its maintenance schedule, requests and invoices.

A page owns a ``Panels`` set; a domain adds ``(template, context function, permission)`` to it when its views module
is imported, so the page's own domain never imports the domains that add to it::

    customer_panels.add("contracts/_customer_panel.html", lambda customer: {"agreements": ...}, CONTRACTS_READ)

The page renders each panel whose template exists and whose permission the user holds, with the context
function's dict plus the page's object under the set's name as the template's context.
"""

from collections.abc import Callable
from typing import NamedTuple

from flask import current_app, render_template
from jinja2 import TemplateNotFound
from markupsafe import Markup

from fieldservice.auth.permissions import can


class Panel(NamedTuple):
    template: str
    context: Callable[[object], dict]
    permission: str


class Panels:
    """The panels of one kind of page, in the order they were added."""

    def __init__(self, name: str):
        self.name = name
        self.panels: list[Panel] = []

    def add(self, template: str, context: Callable[[object], dict], permission: str) -> None:
        """Add a panel once (tests build many apps from the same imported modules)."""
        if not any(panel.template == template for panel in self.panels):
            self.panels.append(Panel(template, context, permission))

    def render(self, obj, user) -> list[Markup]:
        """The HTML of each panel *user* may see."""
        return [
            Markup(render_template(panel.template, **{**panel.context(obj), self.name: obj}))
            for panel in self.panels
            if can(user, panel.permission) and _template_exists(panel.template)
        ]


def _template_exists(name: str) -> bool:
    try:
        current_app.jinja_env.get_template(name)
    except TemplateNotFound:
        return False
    return True


# The home page: each domain adds the work it gives a role today (a dispatcher's queue, a manager's locked and
# overdue requests and visits to verify, a callback agent's calls); the object is the user.
home_panels = Panels("user")
