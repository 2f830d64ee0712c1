"""Demo data: complaints from several channels in every state, one past its due time and escalated."""

import logging
import random
from datetime import timedelta

from fieldservice.complaints import operations as ops
from fieldservice.core.errors import ApiError
from fieldservice.core.models import utcnow

log = logging.getLogger("fieldservice.complaints")

# kind, severity, channel, summary, description, how far it got
COMPLAINTS = [
    (
        "attitude",
        "high",
        "phone",
        "工程师服务态度差",
        "客户反映工程师上门时说话不耐烦，拒绝解释故障原因。",
        "closed",
    ),
    (
        "timeliness",
        "medium",
        "wechat",
        "上门时间一再推迟",
        "预约周二上午上门，改了两次时间仍未到。",
        "in_progress",
    ),
    (
        "billing",
        "medium",
        "phone",
        "对上门费有异议",
        "客户认为设备仍在保修期内，不应收取上门费。",
        "assigned",
    ),
    (
        "quality",
        "high",
        "email",
        "维修后一周再次故障",
        "更换主板后仅一周再次无法开机，客户要求换机。",
        "in_progress",
    ),
    ("parts", "low", "web", "备件等待时间过长", "压缩机备件已等待十天，客户要求给出明确到货时间。", "open"),
    ("product", "critical", "phone", "设备漏电", "客户报告触摸设备外壳有麻电感，担心安全。", "escalated"),
    ("other", "low", "walk_in", "发票未寄到", "维修完成一个月，发票仍未收到。", "closed"),
]
STEPS = [("call", "已电话联系客户，了解详细情况"), ("investigation", "调取工单与工程师核实现场情况")]


def _user(context: dict, role: str):
    users = context.get("users") or {}
    return next((u for u in users.values() if str(u.role) == role), None)


def seed(rng: random.Random, context: dict) -> None:
    desk = _user(context, "dispatcher") or _user(context, "admin")
    manager = _user(context, "manager") or _user(context, "admin")
    agent = _user(context, "callback") or manager
    requests = [sr for sr in context.get("requests") or [] if sr.visit_count]
    customers = list(context.get("customers") or [])
    if desk is None or manager is None or not (requests or customers):
        log.info("complaints demo: no staff, requests or customers in the context")
        return
    now = utcnow()
    for kind, severity, channel, summary, description, stage in COMPLAINTS:
        sr = (
            rng.choice(requests)
            if requests and kind in ("attitude", "timeliness", "quality", "billing")
            else None
        )
        customer = sr.customer if sr else rng.choice(customers)
        start = (
            now - timedelta(hours=ops.due_hours(severity) + 2)
            if stage == "escalated"
            else now - timedelta(hours=rng.randint(2, 30))
        )
        data = {
            "kind": kind,
            "severity": severity,
            "channel": channel,
            "summary": summary,
            "description": description,
            "customer_id": customer.id,
            "request_id": sr.id if sr else None,
            "contact_name": customer.name,
            "contact_phone": customer.phone,
        }
        try:
            complaint = ops.create_complaint(data, desk, now=start)
            _handle(complaint, stage, manager, agent, start)
        except ApiError as exc:
            log.info("complaints demo: %s stopped early: %s", summary, exc.message)
    ops.sweep_complaints(now)


def _handle(complaint, stage: str, manager, agent, start) -> None:
    if stage in ("open", "escalated"):
        return
    t = start + timedelta(minutes=20)
    ops.perform(complaint, "assign", manager, None, now=t, handler_id=agent.id)
    if stage == "assigned":
        return
    ops.perform(complaint, "start", agent, None, now=t + timedelta(minutes=10))
    for i, (kind, note) in enumerate(STEPS):
        ops.perform(
            complaint, "act", agent, None, now=t + timedelta(minutes=30 * (i + 1)), kind=kind, note=note
        )
    if stage == "closed":
        ops.perform(
            complaint,
            "close",
            agent,
            None,
            now=t + timedelta(hours=2),
            outcome="已向客户致歉，并对相关人员进行服务规范培训",
            customer_feedback="客户表示接受处理结果",
            customer_satisfied=True,
        )
