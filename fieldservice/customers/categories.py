"""Product categories: what a product is, and the skill an engineer needs to service it."""

from flask_babel import lazy_gettext as _l

# The API accepts any category word; the console offers these, with the labels the business uses.
CATEGORIES = {
    "air_conditioner": _l("Commercial air conditioner"),
    "water_purifier": _l("Commercial water purifier"),
    "elevator": _l("Elevator"),
    "printer": _l("Printer and copier"),
    "medical": _l("Medical equipment"),
}


def category_label(code: str | None) -> str:
    """The label of *code* in the user's language, or the code itself for a category the console does not know."""
    if code is None:
        return ""
    return str(CATEGORIES.get(code, code))
