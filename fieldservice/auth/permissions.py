"""One permission mechanism for the API and the console: named permissions granted to roles."""

import logging
from collections.abc import Iterable
from functools import wraps

from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from fieldservice.auth.models import ROLE_LABELS, Role
from fieldservice.core.errors import Forbidden, Unauthorized
from fieldservice.extensions import login_manager

log = logging.getLogger("fieldservice.auth")

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.ADMIN, Role.MANAGER, Role.DISPATCHER})

# permission -> roles. Each domain defines its own with define() when its module is imported.
PERMISSIONS: dict[str, frozenset[str]] = {}


def define(name: str, roles: Iterable[str]) -> str:
    """Declare a permission and the roles that hold it; returns its name for use in require()."""
    PERMISSIONS[name] = frozenset(str(r) for r in roles)
    return name


def can(user, permission: str) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    try:
        roles = PERMISSIONS[permission]
    except KeyError as exc:
        raise KeyError(f"undefined permission {permission!r}") from exc
    return user.role in roles


def check(permission: str) -> None:
    """Raise 401 when nobody is logged in and 403 when the user's role lacks *permission*."""
    if not current_user.is_authenticated:
        raise Unauthorized("not_logged_in", _("Log in first."))
    if not can(current_user, permission):
        role = ROLE_LABELS.get(current_user.role, current_user.role)
        # The permission's name is for the log, not for the reader.
        log.info("%s (%s) refused %s on %s", current_user.username, current_user.role, permission, request.path)
        raise Forbidden("forbidden", _("Your role (%(role)s) may not do this.", role=role))


def require(permission: str):
    """Guard a view or API handler with *permission*."""
    if permission not in PERMISSIONS:
        raise KeyError(f"undefined permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated and not request.path.startswith("/api/"):
                return login_manager.unauthorized()
            check(permission)
            return view(*args, **kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator


# The permissions of the foundation itself.
USERS_MANAGE = define("users.manage", {Role.ADMIN})
CALENDAR_MANAGE = define("calendar.manage", {Role.ADMIN})
CONSOLE = define("console.use", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.CALLBACK, Role.ENGINEER})
