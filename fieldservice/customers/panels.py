"""Panels that other domains add to the customer's page (agreements, request history...).

A domain appends ``(template_name, context_function, permission)`` to ``CUSTOMER_PANELS`` when its views module is
imported, e.g. in ``fieldservice/contracts/views.py``::

    from fieldservice.customers.panels import add_customer_panel

    add_customer_panel("contracts/_customer_panel.html", lambda customer: {"agreements": ...}, CONTRACTS_READ)

The customer page renders each panel whose template exists and whose permission the user holds, with the
context function's dict plus ``customer`` as the template's context.
"""

from collections.abc import Callable
from typing import NamedTuple

from flask import current_app, render_template
from jinja2 import TemplateNotFound
from markupsafe import Markup

from fieldservice.auth.permissions import can


class CustomerPanel(NamedTuple):
    template: str
    context: Callable[[object], dict]
    permission: str


CUSTOMER_PANELS: list[CustomerPanel | tuple] = []


def add_customer_panel(template: str, context: Callable[[object], dict], permission: str) -> None:
    """Register a panel once (tests build many apps from the same imported modules)."""
    if not any(panel[0] == template for panel in CUSTOMER_PANELS):
        CUSTOMER_PANELS.append(CustomerPanel(template, context, permission))


def _template_exists(name: str) -> bool:
    try:
        current_app.jinja_env.get_template(name)
    except TemplateNotFound:
        return False
    return True


def render_panels(customer, user) -> list[Markup]:
    """The HTML of each panel the user may see, in registration order."""
    rendered = []
    for template, context, permission in CUSTOMER_PANELS:
        if can(user, permission) and _template_exists(template):
            rendered.append(Markup(render_template(template, **{**context(customer), "customer": customer})))
    return rendered
