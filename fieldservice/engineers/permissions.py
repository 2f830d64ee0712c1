from flask_login import current_user

from fieldservice.auth.models import Role
from fieldservice.auth.permissions import can, define
from fieldservice.core.errors import Forbidden

# Dispatchers read the team (loads, skills) to assign work; only managers and admins change it.
ENGINEERS_READ = define("engineers.read", {Role.ADMIN, Role.MANAGER, Role.DISPATCHER})
ENGINEERS_WRITE = define("engineers.write", {Role.ADMIN, Role.MANAGER})


def check_self_or(permission: str, engineer) -> None:
    """An engineer may read their own record; everyone else needs *permission*."""
    if not can(current_user, permission) and engineer.user_id != current_user.id:
        raise Forbidden("forbidden", f"Your role ({current_user.role}) may not read another engineer's record.")
