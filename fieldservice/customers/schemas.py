import marshmallow as ma
from marshmallow import validate

from fieldservice.core.api import PageArgs


def N_(message: str) -> str:
    """Mark *message* for the translation catalog; it is translated where it is shown (console, import report)."""
    return message


# marshmallow's own messages, which the console shows translated (listed here so that extraction finds them).
MARSHMALLOW_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Not a valid string."),
    N_("Not a valid number."),
    N_("Not a valid integer."),
    N_("Not a valid date."),
    N_("Not a valid email address."),
    N_("Unknown field."),
    N_("Invalid input type."),
    N_("Special numeric values (nan or infinity) are not permitted."),
)

# Fixed sentences rather than marshmallow's "{max}" templates, so that each one has a translation.
_AT_MOST = {
    60: N_("At most 60 characters."),
    80: N_("At most 80 characters."),
    120: N_("At most 120 characters."),
    200: N_("At most 200 characters."),
    300: N_("At most 300 characters."),
    4000: N_("At most 4000 characters."),
}


def _text(max_length: int, required: bool = False) -> list:
    rules = [validate.Length(max=max_length, error=_AT_MOST[max_length])]
    if required:
        rules.insert(0, validate.Length(min=1, error=N_("Must not be empty.")))
    return rules


_phone = validate.Regexp(r"^[0-9+\-() ]{5,40}$", error=N_("Not a phone number."))
_lat = validate.Range(min=-90, max=90, error=N_("Must be between -90 and 90."))
_lng = validate.Range(min=-180, max=180, error=N_("Must be between -180 and 180."))


class ContactSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    title = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)


class CustomerSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    phone = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    address = ma.fields.String()
    zone = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lng = ma.fields.Float(allow_none=True)
    notes = ma.fields.String(allow_none=True)
    contacts = ma.fields.List(ma.fields.Nested(ContactSchema))
    version = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()


class CustomerArgs(ma.Schema):
    name = ma.fields.String(required=True, validate=_text(200, required=True))
    phone = ma.fields.String(required=True, validate=_phone)
    address = ma.fields.String(required=True, validate=_text(300, required=True))
    zone = ma.fields.String(load_default=None, allow_none=True, validate=_text(60))
    lat = ma.fields.Float(load_default=None, allow_none=True, validate=_lat)
    lng = ma.fields.Float(load_default=None, allow_none=True, validate=_lng)
    email = ma.fields.Email(load_default=None, allow_none=True, validate=_text(200))
    notes = ma.fields.String(load_default=None, allow_none=True, validate=_text(4000))


class CustomerUpdateArgs(CustomerArgs):
    """Load with partial=UPDATABLE: only the fields sent change; `version` is always required."""

    version = ma.fields.Integer(required=True)


class ContactArgs(ma.Schema):
    name = ma.fields.String(required=True, validate=_text(120, required=True))
    title = ma.fields.String(load_default=None, allow_none=True, validate=_text(120))
    phone = ma.fields.String(load_default=None, allow_none=True, validate=_phone)
    email = ma.fields.Email(load_default=None, allow_none=True, validate=_text(200))


class CustomerQueryArgs(PageArgs):
    q = ma.fields.String(load_default="")
    zone = ma.fields.String(load_default=None)


class ProductSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    model = ma.fields.String()
    category = ma.fields.String()
    version = ma.fields.Integer()
    updated_at = ma.fields.AwareDateTime()


class ProductArgs(ma.Schema):
    name = ma.fields.String(required=True, validate=_text(200, required=True))
    model = ma.fields.String(required=True, validate=_text(120, required=True))
    category = ma.fields.String(required=True, validate=_text(80, required=True))


class ProductUpdateArgs(ProductArgs):
    version = ma.fields.Integer(required=True)


class EquipmentSchema(ma.Schema):
    id = ma.fields.Integer()
    customer_id = ma.fields.Integer()
    product_id = ma.fields.Integer()
    product = ma.fields.Nested(ProductSchema(only=("id", "name", "model", "category")))
    serial_number = ma.fields.String()
    installed_on = ma.fields.Date(allow_none=True)
    warranty_until = ma.fields.Date(allow_none=True)
    location = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()
    updated_at = ma.fields.AwareDateTime()


class EquipmentQueryArgs(PageArgs):
    q = ma.fields.String(load_default="", metadata={"description": "Part of a serial number."})
    customer_id = ma.fields.Integer(load_default=None)


WARRANTY_BEFORE_INSTALL = N_("The warranty cannot end before the installation.")


class EquipmentArgs(ma.Schema):
    customer_id = ma.fields.Integer(required=True)
    product_id = ma.fields.Integer(required=True)
    serial_number = ma.fields.String(required=True, validate=_text(120, required=True))
    installed_on = ma.fields.Date(load_default=None, allow_none=True)
    warranty_until = ma.fields.Date(load_default=None, allow_none=True)
    location = ma.fields.String(load_default=None, allow_none=True, validate=_text(200))

    @ma.validates_schema
    def _warranty_after_install(self, data, **kwargs):
        installed, until = data.get("installed_on"), data.get("warranty_until")
        if installed and until and until < installed:
            raise ma.ValidationError(WARRANTY_BEFORE_INSTALL, "warranty_until")


class EquipmentUpdateArgs(EquipmentArgs):
    version = ma.fields.Integer(required=True)


class ImportRowErrorSchema(ma.Schema):
    line = ma.fields.Integer(metadata={"description": "Line in the file; the header is line 1."})
    field = ma.fields.String(metadata={"description": "The column, or empty for the whole line."})
    message = ma.fields.String()


class ImportResultSchema(ma.Schema):
    imported = ma.fields.Integer(metadata={"description": "How many rows were created."})
    encoding = ma.fields.String(metadata={"description": "How the file was decoded: UTF-8, UTF-8 (BOM) or GB18030."})
    ids = ma.fields.List(ma.fields.Integer(), metadata={"description": "The new records' ids, in file order."})


def updatable(schema_class: type[ma.Schema]) -> ma.Schema:
    """An update schema where every field but `version` may be left out."""
    names = tuple(name for name in schema_class._declared_fields if name != "version")
    return schema_class(partial=names)
