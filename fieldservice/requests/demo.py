"""Demo data: the managed problem types, and requests in every state with real timelines and visits.

Every request goes through the same operations a user would use (backdated with `now=`): each timeline is one
the product could have produced.
"""

import base64
import io
import logging
import random
from datetime import timedelta

from fieldservice.core.errors import ApiError
from fieldservice.core.models import utcnow
from fieldservice.extensions import db
from fieldservice.requests import operations as ops
from fieldservice.requests.models import ProblemType

log = logging.getLogger("fieldservice.requests")

# code, Chinese, English, kind of work
PROBLEM_TYPES = [
    ("no_cooling", "不制冷", "Not cooling", "repair"),
    ("no_heating", "不制热", "Not heating", "repair"),
    ("leak", "漏水", "Leaking", "repair"),
    ("noise", "噪音异常", "Abnormal noise", "repair"),
    ("no_power", "无法开机", "Will not power on", "repair"),
    ("error_code", "显示故障代码", "Shows an error code", "repair"),
    ("poor_water", "出水异常", "Abnormal water output", "repair"),
    ("installation", "安装调试", "Installation and commissioning", "installation"),
    ("maintenance", "保养", "Maintenance", "maintenance"),
    ("relocation", "移机", "Relocation", "installation"),
    ("other", "其他", "Other", "other"),
]

# What goes wrong with each kind of product, in the customer's words: a request's problem type and description match
# the unit it is about (no air-conditioner faults on a biochemical analyzer).
DESCRIPTIONS = {
    "air_conditioner": {
        "no_cooling": ["空调开机后不制冷，出风口是常温风", "制冷效果差，室温 29 度", "模块机组出水温度降不下来"],
        "no_heating": ["冬季制热模式无热风", "热泵制热时外机结霜严重，不出热风"],
        "leak": ["室内机滴水，地面有积水", "冷凝水管渗水"],
        "noise": ["外机运转时有明显的金属撞击声"],
        "error_code": ["线控器显示 E4 故障代码", "显示 F1 报警，重启后仍然出现"],
        "maintenance": ["年度例行保养：清洗滤网和冷凝器"],
    },
    "water_purifier": {
        "poor_water": ["出水量明显变小", "出水有异味，TDS 值偏高"],
        "leak": ["净水器底部漏水，已关闭进水阀", "开水器接口处渗水"],
        "no_power": ["开水器按电源键无反应，指示灯不亮"],
        "error_code": ["面板显示 E1，提示缺水"],
        "maintenance": ["更换滤芯并清洗"],
        "installation": ["新购净水器需要上门安装调试"],
    },
    "elevator": {
        "noise": ["电梯运行时轿厢有异响", "扶梯运行时梯级有撞击声"],
        "error_code": ["电梯停在二楼，显示故障代码 E30", "层门关不严，电梯反复开关门"],
        "no_power": ["扶梯突然停止运行，无法启动"],
        "maintenance": ["半月例行保养"],
    },
    "printer": {
        "error_code": ["复印机频繁卡纸，提示 J095", "显示 SC542 定影故障"],
        "no_power": ["复合机开机无反应"],
        "noise": ["进纸时有咔咔的响声"],
        "maintenance": ["按印量例行保养，更换硒鼓"],
    },
    "medical": {
        "error_code": ["生化分析仪提示灯能量低，无法测试", "冷藏箱报警：温度超限"],
        "no_cooling": ["医用冷藏箱温度降不到 8 度以下"],
        "no_power": ["分析仪开机自检不通过，无法进入主界面"],
        "maintenance": ["季度例行保养，更换泵管"],
    },
}
# What the engineer found and did, per kind of product.
CAUSES = {
    "air_conditioner": [
        ("启动电容老化失效", "更换启动电容，测试运行正常"),
        ("冷媒泄漏，系统压力偏低", "查漏补焊后加注冷媒至标准压力"),
        ("排水管堵塞", "疏通排水管并做防堵处理"),
        ("温度传感器阻值漂移", "更换温度传感器"),
    ],
    "water_purifier": [
        ("滤芯使用超期", "更换全套滤芯，冲洗管路"),
        ("进水电磁阀线圈烧毁", "更换进水电磁阀，试机正常"),
        ("快接头老化渗漏", "更换快接头并做保压测试"),
    ],
    "elevator": [
        ("层门滚轮磨损", "更换层门滚轮，调整门刀间隙"),
        ("编码器信号干扰", "重新屏蔽编码器线缆，试运行正常"),
    ],
    "printer": [
        ("搓纸轮磨损打滑", "更换搓纸轮组件"),
        ("定影组件老化", "更换定影组件，打印测试正常"),
    ],
    "medical": [
        ("卤素灯老化，能量不足", "更换卤素灯并重新校准"),
        ("冷藏箱压缩机启动器故障", "更换启动器，温度恢复正常"),
    ],
}
UNSOLVED = [
    ("需要更换的备件不在车上", "已申请备件，待到货后再次上门"),
    ("故障间歇出现，现场未能复现", "已记录运行数据，需进一步观察"),
]
REASONS_CANCEL = ["客户已自行解决", "客户重复报修", "客户取消预约"]
REASONS_SUSPEND = ["等待客户确认上门时间", "等待备件到货"]


def _signature_data_url() -> str:
    """A small hand-drawn-looking signature, as the PWA would send it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 80), "white")
    draw = ImageDraw.Draw(image)
    points = [(10 + i * 11, 40 + int(18 * ((-1) ** i)) * (i % 3) // 2) for i in range(21)]
    draw.line(points, fill="navy", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _seq(value) -> list:
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.values())
    return list(value)


def _user(context: dict, role: str):
    users = _seq(context.get("users"))
    return next((u for u in users if getattr(u, "role", None) == role), None)


def seed_problem_types() -> list[ProblemType]:
    types = [
        ProblemType(code=code, name_zh=zh, name_en=en, category=kind, sort_order=i)
        for i, (code, zh, en, kind) in enumerate(PROBLEM_TYPES)
    ]
    db.session.add_all(types)
    db.session.flush()
    return types


def seed(rng: random.Random, context: dict) -> None:
    context["problem_types"] = seed_problem_types()
    customers = _seq(context.get("customers"))
    engineers = [e for e in _seq(context.get("engineers")) if getattr(e, "active", True)]
    dispatcher = _user(context, "dispatcher") or _user(context, "manager") or _user(context, "admin")
    manager = _user(context, "manager") or _user(context, "admin")
    callback = _user(context, "callback") or manager
    if not customers or not engineers or dispatcher is None or manager is None:
        log.info("requests demo: no customers, engineers or staff in the context; problem types only")
        return
    equipment_by_customer: dict[int, list] = {}
    for unit in _seq(context.get("equipment")):
        equipment_by_customer.setdefault(unit.customer_id, []).append(unit)
    products = _seq(context.get("products"))
    signature = _signature_data_url()
    # The parts demo (seeded before this one) says which parts an engineer's van holds; no parts without it.
    van_parts = context.get("van_parts") or (lambda rng, engineer, category: [])
    plan = (
        ["awaiting"] * 10
        + ["suspended"] * 3
        + ["assigned"] * 8
        + ["locked_late"] * 2
        + ["locked_twice"] * 2
        + ["resolved"] * 8
        + ["revisited"] * 14
        + ["reopened"] * 2
        + ["cancelled"] * 3
    )
    created = []
    now = utcnow()
    for kind in plan:
        customer = rng.choice(customers)
        units = equipment_by_customer.get(customer.id) or []
        unit = rng.choice(units) if units else None
        product = unit.product if unit is not None else (rng.choice(products) if products else None)
        if product is None:
            continue
        try:
            sr = _seed_request(
                rng, kind, customer, unit, product, engineers, dispatcher, manager, callback, signature, now,
                van_parts,
            )
        except ApiError as exc:
            # Another domain's rule (dispatch, parts) refused a step: keep the demo going with what was made.
            log.info("requests demo: %s request stopped early: %s", kind, exc.message)
            continue
        created.append(sr)
    ops.sweep_requests(now)
    context["requests"] = created


def _seed_request(
    rng, kind, customer, unit, product, engineers, dispatcher, manager, callback, signature, now, van_parts
):
    problems = DESCRIPTIONS.get(product.category) or DESCRIPTIONS["air_conditioner"]
    code = rng.choice(sorted(problems))
    old = kind in ("resolved", "revisited", "reopened", "cancelled", "locked_late", "locked_twice")
    start = now - (timedelta(days=rng.randint(3, 25)) if old else timedelta(hours=rng.randint(1, 40)))
    start -= timedelta(minutes=rng.randint(0, 59))
    required = start + timedelta(days=rng.choice([1, 2, 3, 5]))
    if kind == "locked_late":
        required = start + timedelta(hours=20)
    elif kind in ("awaiting", "suspended", "assigned"):
        required = max(required, now + timedelta(hours=rng.randint(4, 72)))
    data = {
        "customer_id": customer.id,
        "equipment_id": unit.id if unit is not None else None,
        "product_id": product.id,
        "problem_type": code,
        "description": rng.choice(problems[code]),
        "priority": rng.choices([1, 2, 3, 4], weights=[1, 3, 5, 2])[0],
        "required_by": required,
        "channel": rng.choice(["phone", "phone", "phone", "wechat", "web", "email"]),
        "contact_name": getattr(customer, "name", None),
        "contact_phone": getattr(customer, "phone", None),
        "suspended": kind == "suspended",
    }
    sr = ops.create_request(data, dispatcher, now=start)
    if kind in ("awaiting", "suspended"):
        if kind == "awaiting" and rng.random() < 0.3:
            ops.perform(sr, "urge", None, None, note="客户来电催促", now=start + timedelta(hours=1))
        return sr
    if kind == "locked_late":
        return sr  # the sweep at the end locks it: nobody was assigned by the required date (rule 3a)
    if kind == "cancelled":
        ops.perform(
            sr, "cancel", dispatcher, None, reason=rng.choice(REASONS_CANCEL), now=start + timedelta(hours=2)
        )
        return sr
    skilled = [e for e in engineers if sr.service_category in e.skill_categories] or engineers
    engineer = rng.choice(skilled)
    t = start + timedelta(minutes=rng.randint(10, 90))
    ops.perform(sr, "assign", dispatcher, None, engineer_id=engineer.id, now=t)
    if kind == "assigned":
        if rng.random() < 0.6:
            ops.perform(sr, "accept", engineer.user, None, now=t + timedelta(minutes=15))
        return sr
    visits = 2 if kind == "locked_twice" else 1
    for n in range(visits):
        if n:
            t += timedelta(days=1)
            sr = ops.perform(sr, "assign", dispatcher, None, engineer_id=engineer.id, now=t)
        t = _work(sr, engineer, t)
        solved = kind not in ("locked_twice",)
        causes = CAUSES.get(product.category) or CAUSES["air_conditioner"]
        cause, solution = rng.choice(causes if solved else UNSOLVED)
        arrived = t
        finished = arrived + timedelta(minutes=rng.randint(40, 180))
        ops.record_visit(
            sr,
            {
                "outcome": "resolved" if solved else "unresolved",
                "arrived_at": arrived,
                "finished_at": finished,
                "labour_hours": round((finished - arrived).total_seconds() / 3600, 1),
                "fault": data["description"],
                "cause": cause,
                "solution": solution,
                "costs": [{"kind": "travel", "amount": rng.choice([30, 50, 80])}],
                "parts": van_parts(rng, engineer, sr.service_category)
                if solved and rng.random() < 0.7
                else [],
                "signature": signature,
            },
            engineer.user,
            now=finished,
        )
        t = finished
    if kind in ("revisited", "reopened"):
        satisfied = kind == "revisited"
        ops.perform(
            sr,
            "revisit",
            callback,
            None,
            satisfied=satisfied,
            scores={
                "timeliness": rng.randint(4, 5) if satisfied else 2,
                "attitude": rng.randint(4, 5),
                "quality": rng.randint(4, 5) if satisfied else 2,
            },
            comment="客户对维修结果满意" if satisfied else "客户反映问题再次出现",
            now=t + timedelta(days=1),
        )
    return sr


def _work(sr, engineer, t):
    """Accept, travel, arrive: the engineer's progress events before a visit."""
    ops.perform(sr, "accept", engineer.user, None, now=t + timedelta(minutes=10))
    ops.perform(sr, "depart", engineer.user, None, now=t + timedelta(minutes=30))
    arrive = t + timedelta(minutes=75)
    ops.perform(sr, "arrive", engineer.user, None, now=arrive)
    return arrive
