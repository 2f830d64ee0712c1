"""The parts domain as data: location kinds, movement reasons, and the state machines of part requests,
returns and supplier claims with their labels."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

# Where stock can be. `tracked` locations keep a StockLevel per part (never negative); the supplier and the
# customers' sites are outside the company's stock: units enter from one and leave to the other.
STOCK_KINDS = frozenset({"central", "regional", "van"})


@dataclass(frozen=True)
class LocationKind:
    label: object
    tracked: bool
    virtual: bool  # one shared row, made on first use (code = the kind, upper case)
    serial_status: str  # what a serial unit at such a location is


LOCATION_KINDS: dict[str, LocationKind] = {
    "central": LocationKind(_l("Central warehouse"), True, False, "in_stock"),
    "regional": LocationKind(_l("Regional warehouse"), True, False, "in_stock"),
    "van": LocationKind(_l("Engineer's van"), True, False, "in_stock"),
    "transit": LocationKind(_l("In transit"), True, True, "in_transit"),
    "returns": LocationKind(_l("Faulty returns"), True, True, "returned"),
    "scrap": LocationKind(_l("Scrapped"), True, True, "scrapped"),
    "supplier": LocationKind(_l("Supplier"), False, True, "at_supplier"),
    "customer": LocationKind(_l("Installed at customer"), False, True, "installed"),
    # The other side of a stocktake correction: units found (from it) or lost (to it).
    "adjustment": LocationKind(_l("Stocktake difference"), False, True, "written_off"),
}

SERIAL_STATUS_LABELS = {
    "in_stock": _l("In stock"),
    "in_transit": _l("In transit"),
    "returned": _l("Returned, awaiting inspection"),
    "scrapped": _l("Scrapped"),
    "at_supplier": _l("At the supplier"),
    "installed": _l("Installed"),
    "written_off": _l("Written off"),
}

CONDITION_LABELS = {
    "new": _l("New"),
    "refurbished": _l("Refurbished"),
    "faulty": _l("Faulty"),
    "scrapped": _l("Scrapped"),
}


@dataclass(frozen=True)
class Reason:
    label: object
    sources: frozenset[str]
    targets: frozenset[str]
    condition: str | None = None  # what a serial unit's condition becomes


# Why stock moves, and between which kinds of location each reason may move it: the ledger stays coherent
# whatever the caller (a receipt cannot put units in a van; a use takes them only from a van).
REASONS: dict[str, Reason] = {
    "receipt": Reason(
        _l("Receipt from supplier"), frozenset({"supplier"}), frozenset({"central", "regional"}), "new"
    ),
    "transfer": Reason(_l("Transfer"), STOCK_KINDS, STOCK_KINDS),
    "ship": Reason(_l("Shipped"), frozenset({"central", "regional"}), frozenset({"transit"})),
    "sign": Reason(_l("Signed for"), frozenset({"transit"}), STOCK_KINDS),
    "use": Reason(_l("Used on a visit"), frozenset({"van"}), frozenset({"customer"})),
    "removal": Reason(_l("Old part removed"), frozenset({"customer"}), frozenset({"returns"}), "faulty"),
    "return": Reason(_l("Returned as faulty"), STOCK_KINDS, frozenset({"returns"}), "faulty"),
    "refurbish": Reason(_l("Restocked as refurbished"), frozenset({"returns"}), STOCK_KINDS, "refurbished"),
    "scrap": Reason(_l("Scrapped"), frozenset({"returns"}), frozenset({"scrap"}), "scrapped"),
    "adjust": Reason(_l("Stocktake adjustment"), STOCK_KINDS | {"adjustment"}, STOCK_KINDS | {"adjustment"}),
}


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str
    permission: str  # the permission name (parts.permissions) the actor's role needs


# Part requests (配件申请 → 审批 → 发运 → 签收). Ownership rules (an engineer's own van, the receiver signs)
# are checked in operations on top of the role's permission.
PART_REQUEST_STATUS_LABELS = {
    "applied": _l("Applied"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "shipped": _l("Shipped"),
    "signed": _l("Signed for"),
    "cancelled": _l("Withdrawn"),
}
PART_REQUEST_OPEN = ("applied", "approved", "shipped")
PART_REQUEST_TRANSITIONS: dict[str, Transition] = {
    "approve": Transition(("applied",), "approved", "part_requests.decide"),
    "reject": Transition(("applied",), "rejected", "part_requests.decide"),
    "ship": Transition(("approved",), "shipped", "part_requests.ship"),
    "sign": Transition(("shipped",), "signed", "part_requests.sign"),
    "cancel": Transition(("applied", "approved"), "cancelled", "part_requests.apply"),
}
PART_REQUEST_ACTION_LABELS = {
    "apply": _l("Applied for parts"),
    "approve": _l("Approved"),
    "reject": _l("Rejected"),
    "ship": _l("Shipped"),
    "sign": _l("Signed for"),
    "cancel": _l("Withdrawn"),
}

# Faulty-part returns (旧件返厂 → 审核 → 确认入库).
RETURN_STATUS_LABELS = {
    "opened": _l("Awaiting return"),
    "shipped_back": _l("Shipped back"),
    "received": _l("Received"),
    "inspected": _l("Inspected"),
}
RETURN_OPEN = ("opened", "shipped_back", "received")
RETURN_TRANSITIONS: dict[str, Transition] = {
    "ship": Transition(("opened",), "shipped_back", "returns.ship"),
    "receive": Transition(("shipped_back",), "received", "returns.handle"),
    "inspect": Transition(("received",), "inspected", "returns.handle"),
}

# Supplier claims (二次索赔).
CLAIM_STATUS_LABELS = {
    "submitted": _l("Claim submitted"),
    "accepted": _l("Claim accepted"),
    "rejected": _l("Claim rejected"),
}
CLAIM_TRANSITIONS: dict[str, Transition] = {
    "accept": Transition(("submitted",), "accepted", "claims.handle"),
    "reject": Transition(("submitted",), "rejected", "claims.handle"),
}


def label(table: dict, key: str | None) -> str:
    """The translated label of *key* in one of the tables above (the key itself when unknown)."""
    if key is None:
        return ""
    value = table.get(key)
    if value is None:
        return key
    return str(value.label if hasattr(value, "label") else value)
