"""Service agreements: coverage at intake, agreement types, agreements and their renewal.

This module is the only writer of agreements and their types; the maintenance plans' dates are in maintenance.py.
What work costs and invoices live in the billing domain, the maintenance requests in the requests domain.
Operations flush and never commit.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from fieldservice.contracts.models import (
    CHARGING_METHODS,
    Agreement,
    AgreementType,
    agreement_equipment,
)
from fieldservice.core.clock import add_months, local_date, today
from fieldservice.core.errors import Conflict, ValidationFailed
from fieldservice.core.models import check_version, utcnow
from fieldservice.core.numbering import next_number
from fieldservice.core.search import contains_text
from fieldservice.customers.models import Customer, Equipment
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.contracts")

EXPIRING_DAYS = 30

# The terms an agreement copies from its type (and may then override).
TERM_FIELDS = (
    "response_hours",
    "resolution_hours",
    "terms",
    "service_items",
    "charging_method",
    "labour_rate",
    "visit_fee",
    "maintenance_cycle_months",
)
AGREEMENT_FIELDS = (
    *TERM_FIELDS,
    "name",
    "starts_on",
    "ends_on",
    "maintenance_lead_days",
)
REQUIRED_FIELDS = ("name", "response_hours", "resolution_hours", "starts_on", "ends_on", "charging_method")


@dataclass(frozen=True)
class Coverage:
    """What pays for a job and how fast it is owed: an agreement, or the equipment's warranty."""

    kind: str  # "agreement" | "warranty"
    agreement_id: int | None
    label: str
    response_hours: int | None
    resolution_hours: int | None
    charging_method: str


# --- coverage at intake --------------------------------------------------------------------------------------------


def _strictness(agreement: Agreement) -> tuple:
    # Fastest response first, then fastest resolution, then the method most favourable to the customer.
    return (
        agreement.response_hours,
        agreement.resolution_hours,
        CHARGING_METHODS.index(agreement.charging_method),
        agreement.id,
    )


def _covers(equipment_id: int | None):
    """SQL: the agreement lists no equipment (so covers all of the customer's), or lists *equipment_id*."""
    listed = sa.select(agreement_equipment.c.agreement_id).where(
        agreement_equipment.c.agreement_id == Agreement.id
    )
    covers = ~sa.exists(listed)
    if equipment_id is not None:
        covers = sa.or_(covers, sa.exists(listed.where(agreement_equipment.c.equipment_id == equipment_id)))
    return covers


def agreements_covering(customer_id: int, equipment_id: int | None, on: date) -> list[Agreement]:
    """The customer's agreements valid on *on* that cover *equipment_id* (or all its equipment), strictest first."""
    query = sa.select(Agreement).where(
        Agreement.customer_id == customer_id,
        Agreement.starts_on <= on,
        Agreement.ends_on >= on,
        _covers(equipment_id),
    )
    return sorted(db.session.scalars(query), key=_strictness)


def coverage_for(customer_id: int, equipment_id: int | None, at: datetime) -> Coverage | None:
    """The agreement (strictest first) or warranty that covers this customer's equipment at *at*, or None.

    *at*'s calendar day is taken in the site's time zone: an agreement ending on the 31st covers until midnight
    in Shanghai, not in UTC.
    """
    on = local_date(at)
    agreements = agreements_covering(customer_id, equipment_id, on)
    if agreements:
        best = agreements[0]
        return Coverage(
            kind="agreement",
            agreement_id=best.id,
            label=f"{best.number} {best.name}",
            response_hours=best.response_hours,
            resolution_hours=best.resolution_hours,
            charging_method=best.charging_method,
        )
    if equipment_id is not None:
        equipment = db.session.get(Equipment, equipment_id)
        if equipment is not None and equipment.customer_id == customer_id and equipment.under_warranty(on):
            return Coverage(
                kind="warranty",
                agreement_id=None,
                label=_("Warranty until %(day)s", day=equipment.warranty_until.isoformat()),
                response_hours=None,
                resolution_hours=None,
                charging_method="covered",
            )
    return None


# --- dates ---------------------------------------------------------------------------------------------------------


def _whole_months(starts_on: date, ends_on: date) -> int | None:
    """The length of a period in whole months (1 Jan - 31 Dec = 12), or None when it is not whole months."""
    months = (ends_on.year - starts_on.year) * 12 + ends_on.month - starts_on.month
    for candidate in (months, months + 1):
        if candidate > 0 and add_months(starts_on, candidate) - timedelta(days=1) == ends_on:
            return candidate
    return None


def next_period(agreement: Agreement) -> tuple[date, date]:
    """The period right after *agreement*'s, of the same length (in months when it was whole months)."""
    starts_on = agreement.ends_on + timedelta(days=1)
    months = _whole_months(agreement.starts_on, agreement.ends_on)
    if months:
        return starts_on, add_months(starts_on, months) - timedelta(days=1)
    return starts_on, starts_on + (agreement.ends_on - agreement.starts_on)


# --- agreement types -----------------------------------------------------------------------------------------------


def _check_terms(values: dict) -> None:
    """Refuse terms that cannot hold together (the API's schema checks them too; the console and renewals don't)."""
    errors = {}
    if values.get("charging_method") not in CHARGING_METHODS:
        errors["charging_method"] = "Choose one of: " + ", ".join(CHARGING_METHODS) + "."
    response, resolution = values.get("response_hours"), values.get("resolution_hours")
    if response is not None and response < 1:
        errors["response_hours"] = "Must be at least 1 hour."
    if response is not None and resolution is not None and resolution < response:
        errors["resolution_hours"] = "Resolution time cannot be shorter than response time."
    starts, ends = values.get("starts_on"), values.get("ends_on")
    if starts is not None and ends is not None and ends < starts:
        errors["ends_on"] = "The agreement cannot end before it starts."
    if errors:
        raise ValidationFailed("invalid_terms", "Some terms are not valid.", errors)


def _clean_items(items) -> list[str]:
    return list(dict.fromkeys(items or []))


def create_agreement_type(data: dict, actor) -> AgreementType:
    values = dict(data)
    values["service_items"] = _clean_items(values.get("service_items"))
    _check_terms(values)
    if db.session.scalar(sa.select(AgreementType.id).where(AgreementType.code == values["code"])):
        raise ValidationFailed("duplicate", "That code is taken.", {"code": "That code is taken."})
    agreement_type = AgreementType(**values)
    db.session.add(agreement_type)
    db.session.flush()
    log.info("agreement type %s %r created by %s", agreement_type.id, agreement_type.code, actor.username)
    return agreement_type


def update_agreement_type(agreement_type: AgreementType, data: dict, actor) -> AgreementType:
    data = dict(data)
    check_version(agreement_type, data.pop("version", None))
    if "service_items" in data:
        data["service_items"] = _clean_items(data["service_items"])
    if "code" in data and data["code"] != agreement_type.code:
        taken = sa.select(AgreementType.id).where(
            AgreementType.code == data["code"], AgreementType.id != agreement_type.id
        )
        if db.session.scalar(taken):
            raise ValidationFailed("duplicate", "That code is taken.", {"code": "That code is taken."})
    _check_terms({f: data.get(f, getattr(agreement_type, f)) for f in TERM_FIELDS})
    for key, value in data.items():
        setattr(agreement_type, key, value)
    db.session.flush()
    log.info("agreement type %s updated by %s: %s", agreement_type.id, actor.username, sorted(data))
    return agreement_type


def active_types() -> list[AgreementType]:
    return list(
        db.session.scalars(sa.select(AgreementType).where(AgreementType.active).order_by(AgreementType.id))
    )


# --- agreements ----------------------------------------------------------------------------------------------------


def _equipment_of(customer_id: int, equipment_ids) -> list[Equipment]:
    """The customer's equipment with these ids; any id that is not theirs is refused by name."""
    ids = list(dict.fromkeys(equipment_ids or []))
    if not ids:
        return []
    found = {e.id: e for e in db.session.scalars(sa.select(Equipment).where(Equipment.id.in_(ids)))}
    wrong = [i for i in ids if i not in found or found[i].customer_id != customer_id]
    if wrong:
        message = "Not this customer's equipment: " + ", ".join(str(i) for i in wrong) + "."
        raise ValidationFailed(
            "invalid_equipment",
            message,
            {"equipment_ids": "Only the customer's own equipment can be covered."},
        )
    return [found[i] for i in ids]


def _type_defaults(type_id: int | None) -> tuple[AgreementType | None, dict]:
    if type_id is None:
        return None, {}
    agreement_type = db.session.get(AgreementType, type_id)
    if agreement_type is None or not agreement_type.active:
        raise ValidationFailed(
            "invalid_type", "No such agreement type.", {"type_id": "No such agreement type."}
        )
    defaults = {f: getattr(agreement_type, f) for f in TERM_FIELDS}
    defaults["service_items"] = list(agreement_type.service_items or [])
    defaults["name"] = agreement_type.name
    return agreement_type, defaults


def create_agreement(data: dict, actor) -> Agreement:
    """A customer's agreement: the type's terms (when `type_id` is given) overridden by what *data* sets."""
    data = {k: v for k, v in data.items() if v is not None or k == "maintenance_cycle_months"}
    agreement_type, values = _type_defaults(data.pop("type_id", None))
    equipment_ids = data.pop("equipment_ids", None)
    customer_id = data.pop("customer_id", None)
    values.update({k: v for k, v in data.items() if k in AGREEMENT_FIELDS})
    missing = {f: "Missing data for required field." for f in REQUIRED_FIELDS if values.get(f) in (None, "")}
    if customer_id is None:
        missing["customer_id"] = "Missing data for required field."
    if missing:
        raise ValidationFailed("validation_failed", "Some required fields are missing.", missing)
    if db.session.get(Customer, customer_id) is None:
        raise ValidationFailed("invalid_customer", "No such customer.", {"customer_id": "No such customer."})
    values["service_items"] = _clean_items(values.get("service_items"))
    _check_terms(values)
    equipment = _equipment_of(customer_id, equipment_ids)
    agreement = Agreement(
        number=next_number(f"AG-{today().year}"),
        customer_id=customer_id,
        type=agreement_type,
        created_by_id=actor.id if actor is not None else None,
        **values,
    )
    agreement.equipment = equipment
    db.session.add(agreement)
    db.session.flush()
    log.info(
        "agreement %s %s for customer %s created by %s",
        agreement.id,
        agreement.number,
        customer_id,
        actor.username if actor is not None else "system",
    )
    return agreement


def update_agreement(agreement: Agreement, data: dict, actor) -> Agreement:
    data = dict(data)
    check_version(agreement, data.pop("version", None))
    equipment_ids = data.pop("equipment_ids", None)
    changes = {k: v for k, v in data.items() if k in AGREEMENT_FIELDS}
    if "service_items" in changes:
        changes["service_items"] = _clean_items(changes["service_items"])
    _check_terms({f: changes.get(f, getattr(agreement, f)) for f in AGREEMENT_FIELDS})
    if equipment_ids is not None:
        agreement.equipment = _equipment_of(agreement.customer_id, equipment_ids)
    for key, value in changes.items():
        setattr(agreement, key, value)
    # A change of covered equipment alone must still bump the version (it only touches the association table).
    agreement.updated_at = utcnow()
    db.session.flush()
    log.info(
        "agreement %s updated by %s: %s",
        agreement.number,
        actor.username,
        sorted(data) + (["equipment_ids"] if equipment_ids is not None else []),
    )
    return agreement


def renew_agreement(agreement: Agreement, data: dict, actor) -> Agreement:
    """The next period of *agreement*: same terms and equipment unless *data* overrides them; once only."""
    data = dict(data)
    check_version(agreement, data.pop("version", None))
    if agreement.renewal is not None:
        # A fixed sentence, translatable on the console; `renewal_id` on the agreement names the successor.
        raise Conflict("already_renewed", "This agreement was renewed already.")
    starts_on, ends_on = next_period(agreement)
    if "starts_on" in data and "ends_on" not in data:
        length = ends_on - starts_on
        ends_on = data["starts_on"] + length
    values = {f: getattr(agreement, f) for f in AGREEMENT_FIELDS}
    values.update(starts_on=starts_on, ends_on=ends_on, service_items=list(agreement.service_items or []))
    values.update({k: v for k, v in data.items() if k in AGREEMENT_FIELDS})
    if values["starts_on"] <= agreement.starts_on:
        raise ValidationFailed(
            "invalid_period",
            "A renewal starts after the current period starts.",
            {"starts_on": "A renewal starts after the current period starts."},
        )
    _check_terms(values)
    # Read everything the renewal copies before it exists: a lazy load would autoflush a half-built object.
    equipment = list(agreement.equipment)
    number = next_number(f"AG-{today().year}")
    with db.session.no_autoflush:
        renewal = Agreement(
            number=number,
            customer_id=agreement.customer_id,
            type_id=agreement.type_id,
            renewed_from=agreement,
            created_by_id=actor.id,
            equipment=equipment,
            **values,
        )
        db.session.add(renewal)
    # Renewing changes what the old agreement is (it now has a successor): bump its version too.
    agreement.updated_at = utcnow()
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise Conflict("already_renewed", "This agreement was renewed already.") from exc
    log.info("agreement %s renewed as %s by %s", agreement.number, renewal.number, actor.username)
    return renewal


def _status_clause(status: str, on: date):
    soon = on + timedelta(days=EXPIRING_DAYS)
    return {
        "upcoming": Agreement.starts_on > on,
        "expired": Agreement.ends_on < on,
        "expiring": sa.and_(Agreement.starts_on <= on, Agreement.ends_on >= on, Agreement.ends_on < soon),
        "active": sa.and_(Agreement.starts_on <= on, Agreement.ends_on >= soon),
    }[status]


def search_agreements(
    customer_id: int | None = None, status: str | None = None, q: str = "", on: date | None = None
) -> sa.Select:
    """Agreements filtered by customer, status on *on* (today by default) and number/name/customer name."""
    on = on or today()
    query = sa.select(Agreement).join(Agreement.customer).order_by(Agreement.ends_on, Agreement.id)
    if customer_id is not None:
        query = query.where(Agreement.customer_id == customer_id)
    if status:
        query = query.where(_status_clause(status, on))
    if q and q.strip():
        query = query.where(contains_text(q, Agreement.number, Agreement.name, Customer.name))
    return query


def expiring_agreements(on: date | None = None, days: int = EXPIRING_DAYS) -> sa.Select:
    """Agreements ending within *days* that nobody has renewed yet: the renewal worklist."""
    on = on or today()
    successor = aliased(Agreement)
    return (
        sa.select(Agreement)
        .where(
            Agreement.starts_on <= on,
            Agreement.ends_on >= on,
            Agreement.ends_on < on + timedelta(days=days),
            ~sa.exists(sa.select(successor.id).where(successor.renewed_from_id == Agreement.id)),
        )
        .order_by(Agreement.ends_on, Agreement.id)
    )


def customer_agreements(customer_id: int, on: date | None = None) -> dict:
    """For the customer's page: agreements in force (strictest first), upcoming, and the last few expired."""
    on = on or today()
    rows = list(db.session.scalars(sa.select(Agreement).where(Agreement.customer_id == customer_id)))
    current = sorted((a for a in rows if a.starts_on <= on <= a.ends_on), key=_strictness)
    upcoming = sorted((a for a in rows if a.starts_on > on), key=lambda a: a.starts_on)
    expired = sorted((a for a in rows if a.ends_on < on), key=lambda a: a.ends_on, reverse=True)[:3]
    return {"current": current, "upcoming": upcoming, "expired": expired, "on": on}
