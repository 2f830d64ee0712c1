"""CSV import of customers and equipment: every bad row reported by line and field, nothing imported from a bad file.

The rows are checked with the API's own schemas, then against each other (the same serial number twice) and against
the database (a serial number registered already); only a file with no error at all is written, in the caller's
transaction. Operations-style: these functions flush and never commit.
"""

import codecs
import csv
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import marshmallow as ma
import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError

from fieldservice.core.errors import Conflict, ValidationFailed
from fieldservice.core.spreadsheet import csv_writer
from fieldservice.customers.models import Customer, Equipment, Product
from fieldservice.customers.operations import SERIAL_TAKEN
from fieldservice.customers.schemas import N_, CustomerArgs, EquipmentArgs
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.customers")


@dataclass(frozen=True)
class ImportKind:
    name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    examples: dict[str, str]


CUSTOMERS = ImportKind(
    "customers",
    columns=("name", "phone", "address", "zone", "lat", "lng", "email", "notes"),
    required=("name", "phone", "address"),
    examples={
        "name": "上海东方明珠医院",
        "phone": "021-58881234",
        "address": "上海市浦东新区张杨路1000号",
        "zone": "浦东",
        "lat": "31.2304",
        "lng": "121.5200",
        "email": "houqin@example.com",
        "notes": "",
    },
)
EQUIPMENT = ImportKind(
    "equipment",
    # customer_phone or customer_id: one of the two columns is required, see _check_header.
    columns=(
        "customer_phone",
        "customer_id",
        "product_model",
        "serial_number",
        "installed_on",
        "warranty_until",
        "location",
    ),
    required=("product_model", "serial_number"),
    examples={
        "customer_phone": "021-58881234",
        "customer_id": "",
        "product_model": "GMV-H180WL/A",
        "serial_number": "GR2024A00123",
        "installed_on": "2024-03-15",
        "warranty_until": "2027-03-14",
        "location": "3号楼B1机房",
    },
)
KINDS = {kind.name: kind for kind in (CUSTOMERS, EQUIPMENT)}

MUST_NOT_BE_EMPTY = N_("Must not be empty.")
_CHUNK = 500


@dataclass(frozen=True)
class RowError:
    """One problem in the file: a line (the header is line 1), a column ("" for the whole line), a message."""

    line: int
    field: str
    message: str  # the English sentence, also the translation's msgid; may hold %(name)s placeholders
    params: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"line {self.line}.{self.field}" if self.field else f"line {self.line}"

    @property
    def text(self) -> str:
        return self.message % self.params if self.params else self.message

    def translated(self) -> str:
        return gettext(self.message, **self.params)

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "message": self.text}


class ImportFailed(ValidationFailed):
    """A file with errors: all of them, by line and field; nothing was imported."""

    def __init__(self, errors: list[RowError], encoding: str):
        errors = sorted(errors, key=lambda e: (e.line, e.field))
        fields: dict[str, str] = {}
        for error in errors:
            fields[error.key] = f"{fields[error.key]} {error.text}" if error.key in fields else error.text
        super().__init__(
            "import_failed",
            N_("The file has errors; nothing was imported."),
            fields,
            rows=[e.as_dict() for e in errors],
            encoding=encoding,
        )
        self.errors = errors
        self.encoding = encoding


@dataclass
class ImportResult:
    kind: str
    encoding: str
    created: list

    @property
    def count(self) -> int:
        return len(self.created)


def decode_csv(raw: bytes) -> tuple[str, str]:
    """The file's text and the encoding it was read with: UTF-8 (with or without BOM), else GB18030 (Excel's GBK)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFailed(
            [RowError(1, "", N_("This is UTF-16 text; save it from Excel as CSV (UTF-8) instead."))], "UTF-16"
        )
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[len(codecs.BOM_UTF8) :].decode("utf-8"), "UTF-8 (BOM)"
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise ImportFailed(
                [RowError(line, "", N_("The file is marked as UTF-8 but this line is not UTF-8."))],
                "UTF-8 (BOM)",
            ) from exc
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    # Excel in China saves "CSV" in the ANSI code page, GBK; GB18030 is its superset.
    try:
        return raw.decode("gb18030"), "GB18030"
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFailed(
            [RowError(line, "", N_("The file is neither UTF-8 nor GBK/GB18030 text."))], "unknown"
        ) from exc


def template_csv(kind: ImportKind) -> bytes:
    """The header row for *kind*, as UTF-8 with a BOM so that Excel shows Chinese correctly."""
    out = io.StringIO()
    csv_writer(out, lineterminator="\r\n").writerow(kind.columns)
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def _read(text: str) -> tuple[list[tuple[int, list[str]]], list[RowError]]:
    """The non-blank records with the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records, errors = [], []
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        errors.append(RowError(start, "", N_("This line is not valid CSV: %(reason)s"), {"reason": str(exc)}))
    return records, errors


def _check_header(kind: ImportKind, line: int, cells: list[str]) -> tuple[list[str], list[RowError]]:
    header = [cell.strip().lower() for cell in cells]
    errors = []
    seen = set()
    for name in header:
        if not name:
            errors.append(RowError(line, "", N_("A column has no name.")))
        elif name not in kind.columns:
            errors.append(
                RowError(
                    line,
                    name,
                    N_("Unknown column; the columns are: %(columns)s."),
                    {"columns": ", ".join(kind.columns)},
                )
            )
        elif name in seen:
            errors.append(RowError(line, name, N_("This column appears twice.")))
        seen.add(name)
    for name in kind.required:
        if name not in seen:
            errors.append(RowError(line, name, N_("This column is missing.")))
    if kind is EQUIPMENT and not {"customer_phone", "customer_id"} & seen:
        errors.append(RowError(line, "customer_phone", N_("Give a customer_phone or a customer_id column.")))
    return header, errors


def _rows(kind: ImportKind, raw: bytes) -> tuple[list[tuple[int, dict[str, str]]], list[RowError], str]:
    """Decode, parse and check the header; the data rows as {column: stripped text}, the errors, the encoding."""
    text, encoding = decode_csv(raw)
    records, errors = _read(text)
    if errors:
        raise ImportFailed(errors, encoding)
    if not records:
        raise ImportFailed(
            [RowError(1, "", N_("The file is empty; the first line must name the columns."))], encoding
        )
    (header_line, header_cells), data = records[0], records[1:]
    header, errors = _check_header(kind, header_line, header_cells)
    if errors:
        raise ImportFailed(errors, encoding)
    if not data:
        raise ImportFailed(
            [RowError(header_line + 1, "", N_("The file has no rows below the header."))], encoding
        )
    rows = []
    for line, cells in data:
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            errors.append(RowError(line, "", N_("This line has more cells than the header has columns.")))
            continue
        # Short rows are fine: editors drop trailing empty cells.
        rows.append(
            (line, {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)})
        )
    return rows, errors, encoding


def _schema_errors(
    line: int, row: dict[str, str], exc: ma.ValidationError, required: Iterable[str]
) -> list[RowError]:
    errors = []
    for name, messages in exc.normalized_messages().items():
        column = "" if name == "_schema" else name
        if column in required and row.get(column, "") == "":
            errors.append(RowError(line, column, MUST_NOT_BE_EMPTY))
            continue
        for message in messages if isinstance(messages, list) else [messages]:
            errors.append(RowError(line, column, str(message)))
    return errors


def _present(row: dict[str, str], required: Iterable[str]) -> dict[str, str]:
    """The cells to load: empty optional cells are left out (they load as None), empty required ones are kept."""
    return {name: value for name, value in row.items() if value != "" or name in required}


def _chunks(values: list) -> Iterable[list]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone or "")


def _flush_all(objects: list) -> None:
    db.session.add_all(objects)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Another import or edit saved the same serial number between our check and our write.
        raise Conflict(
            "import_conflict",
            N_("Someone saved the same records meanwhile; nothing was imported. Try again."),
        ) from exc


def import_customers(raw: bytes, actor) -> ImportResult:
    """Create one customer per row of a CSV file, or none if any row is bad."""
    rows, errors, encoding = _rows(CUSTOMERS, raw)
    schema = CustomerArgs()
    loaded: list[tuple[int, dict]] = []
    first_line_of: dict[tuple[str, str], int] = {}
    for line, row in rows:
        try:
            data = schema.load(_present(row, CUSTOMERS.required))
        except ma.ValidationError as exc:
            errors.extend(_schema_errors(line, row, exc, CUSTOMERS.required))
            continue
        key = (data["name"].casefold(), _digits(data["phone"]))
        if key in first_line_of:
            errors.append(
                RowError(
                    line,
                    "name",
                    N_("The same customer (name and phone) as line %(line)s."),
                    {"line": first_line_of[key]},
                )
            )
            continue
        first_line_of[key] = line
        loaded.append((line, data))

    existing = set()
    names = sorted({data["name"] for _, data in loaded})
    for chunk in _chunks(names):
        for name, phone in db.session.execute(
            sa.select(Customer.name, Customer.phone).where(Customer.name.in_(chunk))
        ):
            existing.add((name.casefold(), _digits(phone)))
    for line, data in loaded:
        if (data["name"].casefold(), _digits(data["phone"])) in existing:
            errors.append(RowError(line, "name", N_("A customer with this name and phone exists already.")))
    if errors:
        raise ImportFailed(errors, encoding)

    customers = [Customer(**data, updated_by_id=actor.id) for _, data in loaded]
    _flush_all(customers)
    log.info("%s customers imported by %s (file read as %s)", len(customers), actor.username, encoding)
    return ImportResult("customers", encoding, customers)


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def _iso_date(value: str) -> str:
    """Excel in China writes dates as 2024/3/5; the schema wants 2024-03-05."""
    match = _DATE.match(value)
    if not match:
        return value
    year, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _equipment_lookups(rows: list[tuple[int, dict[str, str]]]) -> tuple[dict, dict, dict, set]:
    """Everything the rows refer to, in a few queries: customers by id and by phone, products, taken serials."""
    ids = sorted({int(r["customer_id"]) for _, r in rows if r.get("customer_id", "").isdigit()})
    phones = sorted({r["customer_phone"] for _, r in rows if r.get("customer_phone")})
    models = sorted({r["product_model"] for _, r in rows if r.get("product_model")})
    serials = sorted({r["serial_number"] for _, r in rows if r.get("serial_number")})
    by_id, by_phone, products, taken = {}, {}, {}, set()
    for chunk in _chunks(ids):
        by_id.update({c.id: c for c in db.session.scalars(sa.select(Customer).where(Customer.id.in_(chunk)))})
    for chunk in _chunks(phones):
        for customer in db.session.scalars(sa.select(Customer).where(Customer.phone.in_(chunk))):
            by_phone.setdefault(customer.phone, []).append(customer)
    for chunk in _chunks(models):
        products.update(
            {p.model: p for p in db.session.scalars(sa.select(Product).where(Product.model.in_(chunk)))}
        )
    for chunk in _chunks(serials):
        taken.update(
            db.session.scalars(sa.select(Equipment.serial_number).where(Equipment.serial_number.in_(chunk)))
        )
    return by_id, by_phone, products, taken


def _equipment_customer(
    line: int, row: dict[str, str], by_id: dict, by_phone: dict
) -> tuple[int | None, list]:
    customer_id, phone = row.get("customer_id", ""), row.get("customer_phone", "")
    if customer_id:
        if not customer_id.isdigit():
            return None, [RowError(line, "customer_id", N_("Not a valid integer."))]
        customer = by_id.get(int(customer_id))
        if customer is None:
            return None, [RowError(line, "customer_id", N_("No such customer."))]
        if phone and _digits(phone) != _digits(customer.phone):
            return None, [
                RowError(
                    line,
                    "customer_phone",
                    N_("Not the phone number of customer %(id)s."),
                    {"id": customer.id},
                )
            ]
        return customer.id, []
    if not phone:
        return None, [
            RowError(line, "customer_phone", N_("Give the customer's phone number or customer_id."))
        ]
    matches = by_phone.get(phone, [])
    if not matches:
        return None, [RowError(line, "customer_phone", N_("No customer has this phone number."))]
    if len(matches) > 1:
        return None, [
            RowError(
                line, "customer_phone", N_("Several customers have this phone number; give customer_id.")
            )
        ]
    return matches[0].id, []


def import_equipment(raw: bytes, actor) -> ImportResult:
    """Register one installed unit per row of a CSV file, or none if any row is bad."""
    rows, errors, encoding = _rows(EQUIPMENT, raw)
    by_id, by_phone, products, taken = _equipment_lookups(rows)
    schema = EquipmentArgs(only=("serial_number", "installed_on", "warranty_until", "location"))
    loaded: list[dict] = []
    first_line_of: dict[str, int] = {}
    for line, row in rows:
        row_errors = []
        customer_id, customer_errors = _equipment_customer(line, row, by_id, by_phone)
        row_errors.extend(customer_errors)
        model = row.get("product_model", "")
        product = products.get(model)
        if not model:
            row_errors.append(RowError(line, "product_model", MUST_NOT_BE_EMPTY))
        elif product is None:
            row_errors.append(RowError(line, "product_model", N_("No product with this model.")))
        cells = {name: row[name] for name in schema.fields if name in row}
        for name in ("installed_on", "warranty_until"):
            if cells.get(name):
                cells[name] = _iso_date(cells[name])
        data = None
        try:
            data = schema.load(_present(cells, EQUIPMENT.required))
        except ma.ValidationError as exc:
            row_errors.extend(_schema_errors(line, row, exc, EQUIPMENT.required))
        serial = row.get("serial_number", "")
        if serial and serial in first_line_of:
            row_errors.append(
                RowError(
                    line,
                    "serial_number",
                    N_("The same serial number as line %(line)s."),
                    {"line": first_line_of[serial]},
                )
            )
        elif serial:
            first_line_of[serial] = line
            if serial in taken:
                row_errors.append(RowError(line, "serial_number", SERIAL_TAKEN))
        if row_errors:
            errors.extend(row_errors)
        else:
            loaded.append({**data, "customer_id": customer_id, "product_id": product.id})
    if errors:
        raise ImportFailed(errors, encoding)

    equipment = [Equipment(**data, updated_by_id=actor.id) for data in loaded]
    _flush_all(equipment)
    log.info("%s equipment units imported by %s (file read as %s)", len(equipment), actor.username, encoding)
    return ImportResult("equipment", encoding, equipment)


def import_file(kind: str, raw: bytes, actor) -> ImportResult:
    return {"customers": import_customers, "equipment": import_equipment}[kind](raw, actor)
