"""Input that no handler should have to think about, refused before it reaches one (never a 500):

- a JSON body that does not parse (an integer of more than 4,300 digits does not), or nests more than MAX_DEPTH deep;
- text with a NUL character or a lone surrogate (PostgreSQL cannot store either), or another control character
  (but tab and line breaks), anywhere in a JSON body;
- an integer beyond what a JavaScript client can hold exactly (2**53), anywhere in a JSON body;
- an id in a URL beyond the database's integer range (the `int` converter: 404, as for any missing id);
- an address longer than MAX_URI (414) or headers beyond MAX_HEADER_FIELD / MAX_HEADER_FIELDS (431): gunicorn's
  default limits, checked here too so that an API client gets its answer in the API's format wherever the server
  in front lets more through (the README runs gunicorn with higher limits for that reason).

What passes here but not the database (say an id of 3,000,000,000 in a query string) is a DataError, answered 422.
"""

import json
import re

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestHeaderFieldsTooLarge, RequestURITooLarge
from werkzeug.routing import IntegerConverter

from fieldservice.core.errors import BadRequest, ValidationFailed

MAX_DEPTH = 32
MAX_INT = 2**53 - 1
MAX_ID = 2**31 - 1
MAX_URI = 4094
MAX_HEADER_FIELD = 8190
MAX_HEADER_FIELDS = 100


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` in every route, bounded to the database's integer column."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


# C0 control characters but tab, line feed and carriage return (line breaks in long text), and DEL: nothing a
# person types, and a terminal or a spreadsheet may act on them.
_CONTROLS = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "Text may not contain a NUL character."
    if _CONTROLS.search(value):
        return "Text may not contain control characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text may not contain a lone surrogate."
    return None


def _walk(value):
    """Each (item, path) of a parsed JSON *value*, depth first; raises when it nests more than MAX_DEPTH deep."""
    stack = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadRequest("too_deep", f"The JSON body nests more than {MAX_DEPTH} levels deep.")
        yield item, path
        if isinstance(item, dict):
            stack.extend((child, f"{path}.{key}" if path else str(key), depth + 1) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((child, f"{path}.{i}" if path else str(i), depth + 1) for i, child in enumerate(item))


def check_depth(value) -> None:
    """Raise when *value* nests more than MAX_DEPTH deep."""
    for _item in _walk(value):
        pass


def check_json(value) -> dict[str, str]:
    """The fields of a parsed JSON *value* that no operation could store, by their path; raises when too deep."""
    fields: dict[str, str] = {}
    for item, path in _walk(value):
        if isinstance(item, dict):
            for key in item:
                if problem := _bad_text(key):
                    fields[f"{path}{key!r}"] = problem
        elif isinstance(item, str):
            if problem := _bad_text(item):
                fields[path or "_schema"] = problem
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
            fields[path or "_schema"] = "Number out of range."
    return fields


def checks_items_itself(view):
    """Mark a view that checks each item of its body itself (a sync batch: one bad op must not refuse the others)."""
    view.checks_json_items = True
    return view


def _check_json_body() -> None:
    if not request.is_json:
        return
    raw = request.get_data(cache=True)
    if not raw:
        return
    try:
        value = json.loads(raw)
    except RecursionError as exc:
        raise BadRequest("too_deep", f"The JSON body nests more than {MAX_DEPTH} levels deep.") from exc
    except ValueError as exc:
        raise BadRequest("malformed_json", "The request body is not valid JSON.") from exc
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "checks_json_items", False):
        check_depth(value)
        return
    fields = check_json(value)
    if fields:
        raise ValidationFailed(
            "validation_failed", "Some fields are not valid: " + ", ".join(sorted(fields)) + ".", fields
        )


def _check_sizes() -> None:
    environ = request.environ
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
    if len(uri) > MAX_URI:
        raise RequestURITooLarge()
    headers = request.headers
    if len(headers) > MAX_HEADER_FIELDS or any(len(k) + len(v) + 2 > MAX_HEADER_FIELD for k, v in headers.items()):
        raise RequestHeaderFieldsTooLarge()


def init_guard(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntegerConverter
    # First of all: before a session is loaded or a rate limit counted for a request that is refused anyway.
    app.before_request_funcs.setdefault(None, []).insert(0, _check_sizes)
    app.before_request(_check_json_body)
