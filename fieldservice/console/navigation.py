"""The console's navigation: each domain adds its entries; each entry shows to the roles with its permission."""

from dataclasses import dataclass

from flask import url_for

from fieldservice.auth.permissions import can


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string, translated when rendered
    permission: str
    order: int = 100
    icon: str = ""


NAV: list[NavItem] = []


def add_nav(endpoint: str, label, permission: str, order: int = 100, icon: str = "") -> None:
    if not any(item.endpoint == endpoint for item in NAV):
        NAV.append(NavItem(endpoint, label, permission, order, icon))


def menu_for(user) -> list[dict]:
    return [
        {"url": url_for(item.endpoint), "label": item.label, "endpoint": item.endpoint, "icon": item.icon}
        for item in sorted(NAV, key=lambda i: i.order)
        if can(user, item.permission)
    ]


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
