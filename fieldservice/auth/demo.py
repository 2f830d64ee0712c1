"""Demo data: the staff logins the README lists (engineers' logins come with their profiles, in engineers/demo.py)."""

from fieldservice.auth import operations as ops

STAFF = [
    # username, password, role, name, phone
    ("admin", "admin123", "admin", "系统管理员 周敏", "13800000001"),
    ("manager", "manager123", "manager", "服务经理 王建国", "13800000002"),
    ("dispatcher", "dispatcher123", "dispatcher", "派单员 李娜", "13800000003"),
    ("dispatcher2", "dispatcher123", "dispatcher", "派单员 陈晓", "13800000004"),
    ("callback", "callback123", "callback", "回访专员 刘芳", "13800000005"),
]


def seed(rng, context: dict) -> None:
    users = context.setdefault("users", {})
    for username, password, role, name, phone in STAFF:
        users[username] = ops.create_user(username, password, role, name=name, phone=phone)
