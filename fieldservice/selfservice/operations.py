"""Self-service (扫码报修): the units' label tokens, what the unit's public page shows, one-time phone codes, and a
fault reported from the page (through the console intake's own operation, with channel `qr`)."""

import base64
import hashlib
import hmac
import logging
import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401  (sa.orm.joinedload)
from flask import current_app

from fieldservice.contracts.operations import agreements_covering
from fieldservice.core.clock import local_date
from fieldservice.core.errors import NotFound, TooManyRequests, ValidationFailed
from fieldservice.core.images import MAX_UPLOAD_BYTES, clean_image, decode_data_url
from fieldservice.core.links import public_url
from fieldservice.core.models import conflict_insert, utcnow
from fieldservice.customers.models import Equipment
from fieldservice.extensions import db
from fieldservice.knowledge.models import KnowledgeEntry
from fieldservice.knowledge.search import scope_filter
from fieldservice.notifications.operations import kick, notify_number
from fieldservice.reports.operations import phones_on_record, progress, urge_from_customer, urls_for
from fieldservice.requests import operations as requests
from fieldservice.requests.models import ProblemType, RequestEvent, ServiceRequest, Visit
from fieldservice.requests.states import OPEN
from fieldservice.selfservice.models import EquipmentLabel, PhoneCode

log = logging.getLogger("fieldservice.selfservice")

TOKEN_BYTES = 24  # 192 bits, past the 128 an unguessable label needs
CODE_TTL = timedelta(minutes=10)
CODE_TRIES = 5
MAX_PHOTOS = 3  # the messages say 3
# The page compresses photos before sending (about 1600 px JPEG, a few hundred KB); this caps what a script sends.
MAX_PHOTO_BYTES = min(2 * 1024 * 1024, MAX_UPLOAD_BYTES)
SELF_SERVICE_PRIORITY = 3  # normal; the dispatcher raises it after reading the report


# ---------------------------------------------------------------- labels
#
# As with the customer's link (reports.operations): only a label's SHA-256 is stored, and its token is an HMAC of
# (SECRET_KEY, unit, serial), so the console prints the same label again without keeping the token anywhere and
# the token cannot be derived from anything printed on the unit (its serial number). Issuing a label revokes the
# earlier ones: the next serial is printed and the old sticker opens nothing.


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _secret() -> bytes:
    key = current_app.config["SECRET_KEY"]
    return key if isinstance(key, bytes) else key.encode("utf-8")


def derive_token(equipment_id: int, serial: int) -> str:
    """The token of label *serial* of a unit: an HMAC of the site's secret, never stored."""
    message = f"fieldservice-equipment-label:{equipment_id}:{serial}".encode("ascii")
    digest = hmac.new(_secret(), message, hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _labels(equipment_id: int) -> list[EquipmentLabel]:
    query = sa.select(EquipmentLabel).where(EquipmentLabel.equipment_id == equipment_id)
    query = query.order_by(EquipmentLabel.serial.desc()).execution_options(populate_existing=True)
    return list(db.session.scalars(query))


def current_label(equipment: Equipment) -> EquipmentLabel | None:
    """The unit's valid label, or None before one is issued (or after it was revoked)."""
    latest = next(iter(_labels(equipment.id)), None)
    return latest if latest is not None and latest.revoked_at is None else None


def _issue(equipment: Equipment, serial: int, actor) -> str:
    token = derive_token(equipment.id, serial)
    # Issued by a concurrent transaction meanwhile: the same serial derives the same token, nothing to add.
    db.session.execute(
        conflict_insert(EquipmentLabel)
        .values(
            equipment_id=equipment.id,
            serial=serial,
            token_hash=_hash(token),
            created_at=utcnow(),
            created_by_id=actor.id if actor is not None else None,
        )
        .on_conflict_do_nothing(index_elements=[EquipmentLabel.equipment_id, EquipmentLabel.serial])
    )
    return token


def label_token(equipment: Equipment, actor=None) -> str:
    """The token of the unit's current label, issued on first need (a sheet of units without a label)."""
    labels = _labels(equipment.id)
    latest = labels[0] if labels else None
    if latest is not None and latest.revoked_at is None:
        token = derive_token(equipment.id, latest.serial)
        if hmac.compare_digest(_hash(token), latest.token_hash):
            return token
        # SECRET_KEY changed since: the printed label keeps working by its hash, a new one is printed.
    return _issue(equipment, (latest.serial if latest else 0) + 1, actor)


def label_tokens(equipment_ids: list[int], actor=None) -> dict[int, str]:
    """label_token for many units at once (a label sheet): one query for their labels, one insert for the new."""
    latest: dict[int, EquipmentLabel] = {}
    query = sa.select(EquipmentLabel).where(EquipmentLabel.equipment_id.in_(equipment_ids))
    for label in db.session.scalars(query.execution_options(populate_existing=True)):
        if label.equipment_id not in latest or label.serial > latest[label.equipment_id].serial:
            latest[label.equipment_id] = label
    tokens, new_rows, now = {}, [], utcnow()
    for equipment_id in equipment_ids:
        label = latest.get(equipment_id)
        if label is not None and label.revoked_at is None:
            token = derive_token(equipment_id, label.serial)
            if hmac.compare_digest(_hash(token), label.token_hash):
                tokens[equipment_id] = token
                continue
        serial = (label.serial if label else 0) + 1
        tokens[equipment_id] = derive_token(equipment_id, serial)
        new_rows.append(
            {
                "equipment_id": equipment_id,
                "serial": serial,
                "token_hash": _hash(tokens[equipment_id]),
                "created_at": now,
                "created_by_id": actor.id if actor is not None else None,
            }
        )
    if new_rows:
        db.session.execute(
            conflict_insert(EquipmentLabel)
            .values(new_rows)
            .on_conflict_do_nothing(index_elements=[EquipmentLabel.equipment_id, EquipmentLabel.serial])
        )
    return tokens


def issue_label(equipment: Equipment, actor) -> str:
    """Revoke the unit's labels and issue the next one (a sticker lost, damaged or photographed): its token."""
    revoked = revoke_labels(equipment)
    token = label_token(equipment, actor)
    log.info("label of unit %s issued by %s (%s revoked)", equipment.id, actor.username, revoked)
    return token


def revoke_labels(equipment: Equipment) -> int:
    return db.session.execute(
        sa.update(EquipmentLabel)
        .where(EquipmentLabel.equipment_id == equipment.id, EquipmentLabel.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def label_urls(token: str) -> dict:
    return {"url": public_url(f"/e/{token}"), "qr_url": public_url(f"/e/{token}/qr.png")}


def equipment_for_token(token: str) -> Equipment | None:
    """The unit a presented label token opens; None for a wrong, altered or revoked one."""
    if not token or len(token) > 64:
        return None
    # One query for the unit, its product and customer: the page needs all three.
    return db.session.scalar(
        sa.select(Equipment)
        .join(EquipmentLabel, EquipmentLabel.equipment_id == Equipment.id)
        .where(EquipmentLabel.token_hash == _hash(token), EquipmentLabel.revoked_at.is_(None))
        .options(sa.orm.joinedload(Equipment.product), sa.orm.joinedload(Equipment.customer))
    )


def unlabelled_equipment_ids(customer_id: int | None = None) -> list[int]:
    """Units that have no valid label yet (all customers', or one customer's)."""
    labelled = sa.select(EquipmentLabel.equipment_id).where(EquipmentLabel.revoked_at.is_(None))
    query = sa.select(Equipment.id).where(Equipment.id.not_in(labelled)).order_by(Equipment.customer_id, Equipment.id)
    if customer_id is not None:
        query = query.where(Equipment.customer_id == customer_id)
    return list(db.session.scalars(query))


# ---------------------------------------------------------------- what the unit's page shows


def coverage_words(equipment: Equipment, now: datetime | None = None) -> dict:
    """The unit's coverage in plain terms: {kind: agreement|warranty|none, until: date|None}."""
    today = local_date(now or utcnow())
    agreements = agreements_covering(equipment.customer_id, equipment.id, today)
    if agreements:
        return {"kind": "agreement", "until": max(a.ends_on for a in agreements)}
    if equipment.under_warranty(today):
        return {"kind": "warranty", "until": equipment.warranty_until}
    return {"kind": "none", "until": equipment.warranty_until}


def open_requests(equipment: Equipment) -> list[ServiceRequest]:
    query = (
        sa.select(ServiceRequest)
        .where(ServiceRequest.equipment_id == equipment.id, ServiceRequest.status.in_(tuple(OPEN)))
        .order_by(ServiceRequest.created_at.desc())
    )
    return list(db.session.scalars(query))


def open_request(equipment: Equipment) -> ServiceRequest | None:
    """The unit's latest open request, or None."""
    query = (
        sa.select(ServiceRequest)
        .where(ServiceRequest.equipment_id == equipment.id, ServiceRequest.status.in_(tuple(OPEN)))
        .order_by(ServiceRequest.created_at.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def recent_visits(equipment: Equipment, limit: int = 5) -> list[Visit]:
    query = (
        sa.select(Visit)
        .join(ServiceRequest, ServiceRequest.id == Visit.request_id)
        .where(ServiceRequest.equipment_id == equipment.id)
        .order_by(Visit.finished_at.desc())
        .limit(limit)
        .options(sa.orm.joinedload(Visit.engineer))
    )
    return list(db.session.scalars(query))


def common_symptoms(equipment: Equipment, limit: int = 8) -> list[KnowledgeEntry]:
    """The knowledge base's published symptoms for this product (its own and its category's), most proven first."""
    query = (
        sa.select(KnowledgeEntry)
        .where(*scope_filter(equipment.product_id))
        .order_by(KnowledgeEntry.successes.desc(), KnowledgeEntry.uses.desc(), KnowledgeEntry.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def mask_phone(phone: str | None) -> str:
    digits = re.sub(r"\D", "", phone or "")
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else ""


def page_of(equipment: Equipment) -> dict:
    """Everything the unit's public page shows: the unit, its coverage, open requests, the last visits."""
    return {
        "equipment": equipment,
        "product": equipment.product,
        "coverage": coverage_words(equipment),
        "requests": [{"sr": sr, "steps": progress(sr)} for sr in open_requests(equipment)],
        "visits": recent_visits(equipment),
        "masked_phone": mask_phone(equipment.customer.phone),
        "hotline": current_app.config["FIELDSERVICE_SERVICE_HOTLINE"],
    }


# ---------------------------------------------------------------- one-time codes


def normalize_phone(phone) -> str | None:
    """The digits of a mainland or international phone number (a +86 prefix dropped), or None when not one."""
    if not isinstance(phone, str) or len(phone) > 40:
        return None
    digits = re.sub(r"[\s\-()]", "", phone.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    if not digits.isdigit():
        return None
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if 7 <= len(digits) <= 15 else None


def _phone_or_422(phone) -> str:
    digits = normalize_phone(phone)
    if digits is None:
        raise ValidationFailed(
            "validation_failed", "Enter a valid phone number.", {"phone": "Enter a valid phone number."}
        )
    return digits


def _code_hash(equipment_id: int, phone: str, code: str) -> str:
    message = f"fieldservice-phone-code:{equipment_id}:{phone}:{code}".encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()


def send_code(equipment: Equipment, phone, locale: str | None = None) -> PhoneCode:
    """Send a 6-digit code to *phone* through the notification channels; earlier codes of that phone for this unit
    stop working. Only the code's HMAC is kept."""
    digits = _phone_or_422(phone)
    now = utcnow()
    db.session.execute(
        sa.update(PhoneCode)
        .where(PhoneCode.equipment_id == equipment.id, PhoneCode.phone == digits, PhoneCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    row = PhoneCode(
        equipment_id=equipment.id,
        phone=digits,
        code_hash=_code_hash(equipment.id, digits, code),
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    db.session.add(row)
    db.session.flush()
    notify_number(None, "verification_code", f"otp{row.id}", digits, locale=locale, code=code)
    kick()
    log.info("code %s for unit %s sent to %s", row.id, equipment.id, mask_phone(digits))
    return row


def verify_code(equipment: Equipment, phone: str, code) -> None:
    """Use up the phone's current code for this unit, or refuse: 422 wrong or expired, 429 past its tries.

    A try is counted in a transaction of its own, so a refused request that rolls back still spends it."""
    code = code.strip() if isinstance(code, str) else ""
    now = utcnow()
    row = db.session.scalar(
        sa.select(PhoneCode)
        .where(PhoneCode.equipment_id == equipment.id, PhoneCode.phone == phone, PhoneCode.used_at.is_(None))
        .order_by(PhoneCode.id.desc())
        .limit(1)
    )
    if row is None or row.expires_at <= now:
        raise ValidationFailed(
            "code_expired", "The code has expired or was not sent: ask for a new one.", {"code": "Ask for a new code."}
        )
    matches = hmac.compare_digest(_code_hash(equipment.id, phone, code), row.code_hash)
    with db.engine.begin() as conn:
        table = PhoneCode.__table__
        if matches:
            # Once: of two requests sending the same code, only one uses it.
            used = conn.execute(
                sa.update(table)
                .where(table.c.id == row.id, table.c.used_at.is_(None), table.c.tries < CODE_TRIES)
                .values(used_at=now, tries=table.c.tries + 1)
            ).rowcount
        else:
            used = 0
            tries = conn.execute(
                sa.update(table)
                .where(table.c.id == row.id, table.c.used_at.is_(None))
                .values(tries=table.c.tries + 1)
                .returning(table.c.tries)
            ).scalar()
    if used:
        return
    if not matches and tries is not None and tries < CODE_TRIES:
        raise ValidationFailed("wrong_code", "The code is not right.", {"code": "The code is not right."})
    raise TooManyRequests(
        "too_many_tries", "Too many wrong codes: ask for a new code.", {"code": "Ask for a new code."}
    )


# ---------------------------------------------------------------- reporting a fault


def _text(data: dict, name: str, limit: int, fields: dict, required: bool = True) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            fields[name] = "Required."
        return ""
    if not isinstance(value, str):
        fields[name] = "Not a text."
        return ""
    value = value.strip()
    if required and not value:
        fields[name] = "Required."
    elif len(value) > limit:
        fields[name] = "Too long."
    return value


def _when(data: dict, name: str, fields: dict) -> datetime | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        fields[name] = "Give a date and time with its offset."
        return None
    return at


def _photos(data: dict, fields: dict) -> list[tuple[str, bytes]]:
    photos = data.get("photos") or []
    if not isinstance(photos, list):
        fields["photos"] = "Send a list of images."
        return []
    if len(photos) > MAX_PHOTOS:
        fields["photos"] = "At most 3 photos."
        return []
    cleaned = []
    for photo in photos:
        # core.images checks the bytes; its words are for staff, the customer reads these.
        try:
            raw = decode_data_url(photo, "photos")
        except ValidationFailed:
            fields["photos"] = "A photo could not be read as an image."
            return []
        if len(raw) > MAX_PHOTO_BYTES:
            fields["photos"] = "A photo is larger than 2 MB."
            return []
        try:
            cleaned.append(clean_image(raw, "photos"))
        except ValidationFailed:
            fields["photos"] = "A photo could not be read as an image."
            return []
    return cleaned


def _symptom(equipment: Equipment, value, fields: dict) -> str | None:
    if value in (None, ""):
        return None
    entry_id = value if isinstance(value, int) else int(value) if isinstance(value, str) and value.isdigit() else 0
    allowed = {entry.id: entry.symptom for entry in common_symptoms(equipment, limit=50)}
    if entry_id not in allowed:
        fields["symptom_id"] = "Not one of this product's common symptoms."
        return None
    return allowed[entry_id]


def check_report(equipment: Equipment, data: dict) -> dict:
    """The report's fields, checked (422 naming each bad one); nothing is written."""
    fields: dict[str, str] = {}
    code = (data.get("problem_type") or "") if isinstance(data.get("problem_type"), str) else ""
    problem = db.session.scalar(sa.select(ProblemType).where(ProblemType.code == code, ProblemType.active))
    if problem is None:
        fields["problem_type"] = "Choose a problem type."
    symptom = _symptom(equipment, data.get("symptom_id"), fields)
    description = _text(data, "description", 2000, fields, required=symptom is None)
    contact_name = _text(data, "contact_name", 120, fields)
    phone = normalize_phone(data.get("phone"))
    if phone is None:
        fields["phone"] = "Enter a valid phone number."
    if not isinstance(data.get("code"), str) or not data["code"].strip():
        fields["code"] = "Enter the code sent to your phone."
    start, end = _when(data, "preferred_start", fields), _when(data, "preferred_end", fields)
    now = utcnow()
    if start and end and end <= start:
        fields["preferred_end"] = "The end is before the start."
    elif (end or start) and (end or start) < now - requests.CLOCK_SKEW:
        fields["preferred_end" if end else "preferred_start"] = "The time is in the past."
    photos = _photos(data, fields)
    if fields:
        raise ValidationFailed("validation_failed", "Some fields are not valid.", fields)
    if symptom:
        description = f"{symptom}\n{description}".strip()
    return {
        "problem_type": problem.code,
        "description": description,
        "contact_name": contact_name,
        "phone": phone,
        "code": data["code"],
        "preferred_start": start,
        "preferred_end": end,
        "photos": photos,
    }


def _preferred_note(report: dict) -> str | None:
    start, end = report["preferred_start"], report["preferred_end"]
    if not start and not end:
        return None
    return "preferred: " + " – ".join(at.isoformat(timespec="minutes") for at in (start, end) if at)


def report_fault(equipment: Equipment, data: dict) -> tuple[ServiceRequest, bool]:
    """A fault reported from the unit's page, the phone confirmed by its code: (request, created).

    With an open request on the unit already, the report becomes a note (and photos) on that one instead of a second
    request. Otherwise the request is logged by the console intake's own operation (numbers, counters, coverage,
    SLA) with channel `qr`."""
    report = check_report(equipment, data)
    verify_code(equipment, report["phone"], report["code"])
    # The unit's row lock makes two reports sent at once take turns: the second finds the first's request open.
    db.session.execute(sa.select(Equipment.id).where(Equipment.id == equipment.id).with_for_update())
    existing = open_request(equipment)
    if existing is not None:
        note = f"{report['contact_name']} ({mask_phone(report['phone'])}): {report['description']}"
        preferred = _preferred_note(report)
        requests.add_event(
            existing,
            "customer_note",
            None,
            existing.status,
            existing.status,
            note=f"{note}\n{preferred}" if preferred else note,
            data={"problem_type": report["problem_type"], "photos": len(report["photos"])},
            actor_label="customer",
        )
        _attach(existing, report["photos"])
        log.info("self-service report on unit %s added to open request %s", equipment.id, existing.number)
        return existing, False
    now = utcnow()
    coverage = requests.coverage_at(equipment.customer_id, equipment.id, now)
    response_due, _resolution = requests.due_times(SELF_SERVICE_PRIORITY, now, coverage)
    sr = requests.create_request(
        {
            "customer_id": equipment.customer_id,
            "equipment_id": equipment.id,
            "problem_type": report["problem_type"],
            "description": report["description"],
            "priority": SELF_SERVICE_PRIORITY,
            "required_by": max(report["preferred_end"] or response_due, now),
            "channel": "qr",
            "contact_name": report["contact_name"],
            "contact_phone": report["phone"],
            "note": _preferred_note(report),
        },
        None,
        now=now,
    )
    # The timeline says who logged it: the customer, from the unit's label.
    db.session.execute(
        sa.update(RequestEvent)
        .where(RequestEvent.request_id == sr.id, RequestEvent.action == "create")
        .values(actor_label="customer")
        .execution_options(synchronize_session=False)
    )
    _attach(sr, report["photos"])
    log.info("self-service request %s logged from unit %s", sr.number, equipment.id)
    return sr, True


def _attach(sr: ServiceRequest, photos: list[tuple[str, bytes]]) -> None:
    for content_type, raw in photos:
        requests.add_attachment(sr, "photo", content_type, raw, None)


def progress_url(sr: ServiceRequest) -> str:
    return urls_for(sr)["url"]


def follow_request(equipment: Equipment, phone, code) -> ServiceRequest:
    """The unit's latest request whose phones on record include *phone*, once the phone's code is right."""
    digits = _phone_or_422(phone)
    verify_code(equipment, digits, code)
    query = (
        sa.select(ServiceRequest)
        .where(ServiceRequest.equipment_id == equipment.id)
        .order_by(ServiceRequest.status.in_(tuple(OPEN)).desc(), ServiceRequest.created_at.desc())
        .limit(20)
    )
    for sr in db.session.scalars(query):
        if any(normalize_phone(number) == digits for number in phones_on_record(sr)):
            return sr
    raise NotFound("no_request", "No request of this unit has this phone number on record.")


def urge(equipment: Equipment, request_id, note=None) -> ServiceRequest:
    """Urge one of the unit's open requests from its page."""
    sr = db.session.get(ServiceRequest, request_id) if isinstance(request_id, int) else None
    if sr is None or sr.equipment_id != equipment.id or sr.status not in OPEN:
        raise NotFound("not_found", "No such open request on this unit.")
    if note is not None and not isinstance(note, str):
        raise ValidationFailed("validation_failed", "Some fields are not valid.", {"note": "Not a text."})
    return urge_from_customer(sr, note)
