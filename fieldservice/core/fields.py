"""Marshmallow fields every domain's schemas share."""

import marshmallow as ma


class DecimalString(ma.fields.Decimal):
    """An exact decimal, written in JSON as a string ("12.5"): a float would lose digits. Input may be a string
    or a number. The OpenAPI document declares it a string with PATTERN."""

    PATTERN = r"^-?\d+(\.\d+)?$"

    def __init__(self, places: int | None = None, **kwargs):
        kwargs.setdefault("allow_nan", False)
        super().__init__(places=places, as_string=True, **kwargs)


class Money(DecimalString):
    """An amount of money: a decimal string with two places ("128.00"), rounded to the cent on input."""

    PATTERN = r"^-?\d+\.\d{2}$"

    def __init__(self, **kwargs):
        super().__init__(places=2, **kwargs)


def decimal_string_pattern(self, field: ma.fields.Field, **kwargs) -> dict:
    """apispec attribute function: the pattern of a DecimalString (its type is mapped to string)."""
    return {"pattern": field.PATTERN} if isinstance(field, DecimalString) else {}
