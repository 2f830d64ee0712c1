"""The console's navigation: each domain adds its entries; each entry shows to the roles with its permission."""

from dataclasses import dataclass

from flask import url_for
from flask_babel import lazy_gettext as _l

from fieldservice.auth.permissions import can

# The menu by task, in the order of a working day; each entry names its group.
GROUPS = {
    "requests": _l("Service requests"),
    "dispatch": _l("Dispatch"),
    "field": _l("Field and parts"),
    "customers": _l("Agreements and customers"),
    "settlement": _l("Settlement"),
    "care": _l("Callbacks and complaints"),
    "analytics": _l("Analytics"),
    "system": _l("System"),
}


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string, translated when rendered
    permission: str
    order: int = 100
    icon: str = ""
    group: str = "system"


NAV: list[NavItem] = []


def add_nav(endpoint: str, label, permission: str, order: int = 100, icon: str = "", group: str = "system") -> None:
    if group not in GROUPS:
        raise ValueError(f"unknown menu group {group!r}")
    if not any(item.endpoint == endpoint for item in NAV):
        NAV.append(NavItem(endpoint, label, permission, order, icon, group))


def menu_for(user) -> list[dict]:
    """The entries *user* may use, in menu order."""
    return [
        {
            "url": url_for(item.endpoint),
            "label": item.label,
            "endpoint": item.endpoint,
            "icon": item.icon,
            "group": item.group,
        }
        for item in sorted(NAV, key=lambda i: (list(GROUPS).index(i.group), i.order))
        if can(user, item.permission)
    ]


def grouped_menu_for(user) -> list[dict]:
    """The menu by task: only the groups with an entry *user* may use."""
    groups: dict[str, list[dict]] = {}
    for item in menu_for(user):
        groups.setdefault(item["group"], []).append(item)
    return [{"key": key, "label": GROUPS[key], "items": groups[key]} for key in GROUPS if key in groups]


@dataclass(frozen=True)
class HomeCard:
    key: str
    permission: str
    compute: object  # () -> {"label", "value", "url"?, "tone"?}
    order: int = 100


HOME_CARDS: list[HomeCard] = []


def add_home_card(key: str, permission: str, compute, order: int = 100) -> None:
    if not any(card.key == key for card in HOME_CARDS):
        HOME_CARDS.append(HomeCard(key, permission, compute, order))


def home_cards_for(user) -> list[dict]:
    return [card.compute() for card in sorted(HOME_CARDS, key=lambda c: c.order) if can(user, card.permission)]
