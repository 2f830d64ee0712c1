"""Fill a database with a realistic service-request history, fast (COPY on PostgreSQL, else Core inserts).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_reqc_bench python bench/generate.py --reset

100,000 requests over a year by default, 500 engineers, 20,000 customers with their installed units, and the
timeline, visits, costs and surveys each request's state implies. The spread follows a running service desk:
most of the history is closed (revisited or cancelled); the open work (awaiting, suspended, assigned, locked,
resolved and waiting for the callback) is recent. Creates the schema from the models when the database is
empty; refuses to add to a database that already has service requests unless --reset (drop and recreate
every table).

Logins for the benchmark: bench-dispatcher, bench-manager, bench-callback, eng0001... / bench-password.
"""

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

PASSWORD = "bench-password"
STAFF = [("bench-admin", "admin"), ("bench-manager", "manager"), ("bench-callback", "callback")] + [
    (f"bench-dispatcher{i}" if i else "bench-dispatcher", "dispatcher") for i in range(8)
]
ZONES = [
    "浦东",
    "徐汇",
    "静安",
    "黄浦",
    "长宁",
    "普陀",
    "虹口",
    "杨浦",
    "闵行",
    "宝山",
    "嘉定",
    "松江",
    "青浦",
    "奉贤",
    "金山",
    "崇明",
]
ZONE_CENTRES = {z: (31.0 + 0.03 * i, 121.2 + 0.025 * i) for i, z in enumerate(ZONES)}
CATEGORIES = {
    # category: (product names, model prefix)
    "water_purifier": (["商用净水器", "反渗透纯水机", "直饮水机"], "RO"),
    "hvac": (["中央空调主机", "风冷模块机组", "多联机室外机"], "AC"),
    "elevator": (["乘客电梯", "自动扶梯", "货梯"], "EL"),
    "boiler": (["燃气锅炉", "电热水锅炉"], "BL"),
    "printer": (["激光打印机", "数码复合机", "宽幅绘图仪"], "PR"),
    "medical": (["血液分析仪", "监护仪", "超声诊断仪"], "MD"),
    "ups": (["不间断电源", "精密配电柜"], "UP"),
    "kitchen": (["商用洗碗机", "蒸烤箱", "制冰机"], "KT"),
}
PROBLEM_TYPES = [
    # code, zh, en, kind
    ("no_power", "无法开机", "Does not power on", "repair"),
    ("leak", "漏水", "Leak", "repair"),
    ("noise", "异响", "Abnormal noise", "repair"),
    ("error_code", "故障代码报警", "Error code shown", "repair"),
    ("poor_output", "性能下降", "Poor performance", "repair"),
    ("broken_part", "部件损坏", "Broken part", "repair"),
    ("installation", "新机安装", "Installation", "installation"),
    ("relocation", "移机", "Relocation", "installation"),
    ("maintenance", "定期保养", "Preventive maintenance", "maintenance"),
    ("inspection", "安全检查", "Safety inspection", "maintenance"),
    ("training", "操作培训", "Operator training", "other"),
    ("consultation", "技术咨询", "Technical question", "other"),
]
PROBLEM_WEIGHTS = [10, 8, 6, 12, 7, 9, 4, 2, 8, 3, 1, 2]
CHANNELS = ["phone", "web", "wechat", "email", "walk_in"]
CHANNEL_WEIGHTS = [50, 15, 25, 7, 3]
PRIORITY_WEIGHTS = [5, 25, 50, 20]
# The state spread of a year of history, and how recent each state's requests are (days back, at most).
STATE_SHARE = {
    "revisited": 0.82,
    "cancelled": 0.055,
    "resolved": 0.03,
    "assigned": 0.05,
    "awaiting_assignment": 0.025,
    "suspended": 0.01,
    "locked": 0.01,
}
RECENT_DAYS = {"resolved": 12, "assigned": 10, "awaiting_assignment": 6, "suspended": 20, "locked": 15}
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国志红梅鹏飞宇浩然子轩欣怡晨阳"
COMPANY_A = [
    "华东",
    "申江",
    "浦江",
    "东方",
    "金桥",
    "新世纪",
    "恒通",
    "嘉和",
    "瑞丰",
    "长江",
    "海纳",
    "永盛",
    "天成",
    "宏达",
    "锦程",
]
COMPANY_B = [
    "医院",
    "酒店",
    "餐饮管理有限公司",
    "物业管理有限公司",
    "制造有限公司",
    "商贸有限公司",
    "实验学校",
    "科技园",
    "大厦",
    "超市",
    "数据中心",
    "检测中心",
]
STREETS = [
    "世纪大道",
    "张杨路",
    "南京西路",
    "淮海中路",
    "虹桥路",
    "中山北路",
    "四川北路",
    "黄兴路",
    "沪闵路",
    "共和新路",
    "曹安公路",
    "松江新城路",
    "华新镇路",
    "南桥路",
    "石化大道",
    "八一路",
]
DESCRIPTIONS = {
    "no_power": "设备早上无法开机,指示灯不亮,已检查插座正常。",
    "leak": "设备底部有积水,疑似管路接头漏水,请尽快上门。",
    "noise": "运行时有明显异响,噪音比平时大。",
    "error_code": "屏幕显示故障代码 E{n},重启后仍然报警。",
    "poor_output": "出水量/制冷效果明显下降,已持续数天。",
    "broken_part": "面板按键损坏,无法正常操作。",
    "installation": "新购设备需要上门安装调试。",
    "relocation": "办公室搬迁,需要移机并重新调试。",
    "maintenance": "按服务协议进行季度保养。",
    "inspection": "年度安全检查,请安排工程师。",
    "training": "新员工需要设备操作培训。",
    "consultation": "咨询设备耗材更换周期及注意事项。",
}
COST_KINDS = [("travel", 30, 120), ("parking", 10, 40), ("fee", 50, 300)]


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))


class Writer:
    """Bulk writes: COPY on PostgreSQL (explicit ids, sequences set afterwards), executemany elsewhere."""

    def __init__(self, conn: sa.Connection, metadata: sa.MetaData):
        self.conn, self.metadata = conn, metadata
        self.postgres = conn.dialect.name == "postgresql"
        self.counts: Counter = Counter()

    def write(self, table_name: str, rows: list[dict]) -> None:
        if not rows:
            return
        table = self.metadata.tables[table_name]
        columns = list(rows[0])
        if self.postgres:
            self._copy(table, columns, rows)
        else:
            for start in range(0, len(rows), 5000):
                self.conn.execute(table.insert(), rows[start : start + 5000])
        self.counts[table_name] += len(rows)

    def _copy(self, table: sa.Table, columns: list[str], rows: list[dict]) -> None:
        # COPY bypasses the UTCDateTime type: store naive UTC exactly as the type would.
        cursor = self.conn.connection.dbapi_connection.cursor()
        column_list = ", ".join(f'"{c}"' for c in columns)
        with cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([_copy_value(row[c]) for c in columns])

    def drop_indexes(self, table_names: list[str]) -> list[sa.Index]:
        """Drop the indexes (not the keys and unique constraints) of these tables; returns them to create again."""
        if not self.postgres:
            return []
        dropped = []
        for name in table_names:
            for index in sorted(self.metadata.tables[name].indexes, key=lambda i: i.name):
                index.drop(self.conn)
                dropped.append(index)
        return dropped

    def reset_sequences(self) -> None:
        if not self.postgres:
            return
        for table in self.metadata.sorted_tables:
            if "id" in table.c and isinstance(table.c.id.type, sa.Integer) and self.counts[table.name]:
                self.conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                        f'(SELECT max(id) FROM "{table.name}"))'
                    )
                )


def _copy_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


class Generator:
    def __init__(
        self, rng: random.Random, now: datetime, n_requests: int, n_engineers: int, n_customers: int
    ):
        self.rng, self.now = rng, now
        self.n_requests, self.n_engineers, self.n_customers = n_requests, n_engineers, n_customers
        self.rows: dict[str, list[dict]] = {}
        # Called with the rows of every CHUNK requests (and what they imply), which are then dropped: a million
        # requests and their timelines do not fit in memory at once.
        self.sink = None

    def add(self, table: str, row: dict) -> None:
        self.rows.setdefault(table, []).append(row)

    def build(self) -> None:
        self.master_data()
        self.requests()

    def master_data(self) -> None:
        self.users()
        self.products()
        self.problem_types()
        self.customers()
        self.engineers()

    def _flush_requests(self) -> None:
        if self.sink is not None:
            self.sink({name: self.rows.pop(name, []) for name in REQUEST_TABLES})

    # Master data
    def users(self) -> None:
        from werkzeug.security import generate_password_hash

        password_hash = generate_password_hash(PASSWORD)  # one hash for all: hashing 500 times takes minutes
        self.staff_ids: dict[str, list[int]] = {}
        uid = 0
        for username, role in STAFF:
            uid += 1
            self.add("users", self._user(uid, username, _person(self.rng), role, password_hash))
            self.staff_ids.setdefault(role, []).append(uid)
        self.engineer_user_ids = []
        for i in range(1, self.n_engineers + 1):
            uid += 1
            self.add("users", self._user(uid, f"eng{i:04d}", _person(self.rng), "engineer", password_hash))
            self.engineer_user_ids.append(uid)

    def _user(self, uid: int, username: str, name: str, role: str, password_hash: str) -> dict:
        at = self.now - timedelta(days=400)
        return {
            "id": uid,
            "username": username,
            "name": name,
            "email": None,
            "phone": None,
            "role": role,
            "password_hash": password_hash,
            "active": True,
            "token_generation": 1,
            "locale": None,
            "created_at": at,
            "updated_at": at,
            "version": 1,
        }

    def products(self) -> None:
        self.products_by_category: dict[str, list[int]] = {}
        pid = 0
        at = self.now - timedelta(days=800)
        for category, (names, prefix) in CATEGORIES.items():
            for name in names:
                for series in range(1, 6):
                    pid += 1
                    self.add(
                        "products",
                        {
                            "id": pid,
                            "name": f"{name} {series}系",
                            "model": f"{prefix}-{pid:03d}{series}0",
                            "category": category,
                            "created_at": at,
                            "updated_at": at,
                            "version": 1,
                        },
                    )
                    self.products_by_category.setdefault(category, []).append(pid)
        self.product_category = {p: c for c, ps in self.products_by_category.items() for p in ps}

    def problem_types(self) -> None:
        at = self.now - timedelta(days=800)
        for i, (code, zh, en, kind) in enumerate(PROBLEM_TYPES, start=1):
            self.add(
                "problem_types",
                {
                    "id": i,
                    "code": code,
                    "name_zh": zh,
                    "name_en": en,
                    "category": kind,
                    "active": True,
                    "sort_order": i * 10,
                    "created_at": at,
                    "updated_at": at,
                    "version": 1,
                },
            )

    def customers(self) -> None:
        rng = self.rng
        self.customer_zone: dict[int, str] = {}
        self.equipment_of: dict[int, list[tuple[int, int]]] = {}
        eid = 0
        categories = list(CATEGORIES)
        for cid in range(1, self.n_customers + 1):
            zone = rng.choice(ZONES)
            lat, lng = ZONE_CENTRES[zone]
            at = self.now - timedelta(days=rng.uniform(380, 1500))
            self.add(
                "customers",
                {
                    "id": cid,
                    "name": f"上海{rng.choice(COMPANY_A)}{rng.choice(COMPANY_B)}{cid}",
                    "phone": f"021-{rng.randint(5000_0000, 6999_9999)}",
                    "email": None,
                    "address": f"上海市{zone}区{rng.choice(STREETS)}{rng.randint(1, 2000)}号",
                    "zone": zone,
                    "lat": round(lat + rng.uniform(-0.03, 0.03), 6),
                    "lng": round(lng + rng.uniform(-0.03, 0.03), 6),
                    "notes": None,
                    "created_at": at,
                    "updated_at": at,
                    "version": 1,
                },
            )
            self.customer_zone[cid] = zone
            for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 4, 5))):
                eid += 1
                product_id = rng.choice(self.products_by_category[rng.choice(categories)])
                installed = (at + timedelta(days=rng.uniform(0, 300))).date()
                self.add(
                    "equipment",
                    {
                        "id": eid,
                        "customer_id": cid,
                        "product_id": product_id,
                        "serial_number": f"SN{eid:09d}",
                        "installed_on": installed,
                        "warranty_until": installed + timedelta(days=rng.choice((365, 730, 1095))),
                        "location": rng.choice(
                            ["一楼机房", "地下室", "厨房", "二楼", "屋顶", "检验科", None]
                        ),
                        "created_at": at,
                        "updated_at": at,
                        "version": 1,
                    },
                )
                self.equipment_of.setdefault(cid, []).append((eid, product_id))

    def engineers(self) -> None:
        rng = self.rng
        self.engineers_by_category: dict[str, list[int]] = {c: [] for c in CATEGORIES}
        self.engineer_user: dict[int, int] = {}
        sid = 0
        at = self.now - timedelta(days=400)
        for i, user_id in enumerate(self.engineer_user_ids, start=1):
            zone = ZONES[i % len(ZONES)]
            lat, lng = ZONE_CENTRES[zone]
            self.add(
                "engineers",
                {
                    "id": i,
                    "user_id": user_id,
                    "name": self.rows["users"][user_id - 1]["name"],
                    "phone": _phone(rng),
                    "zone": zone,
                    "lat": lat,
                    "lng": lng,
                    "max_open_jobs": rng.choice((4, 5, 6, 8)),
                    "work_start": datetime(2000, 1, 1, 8, 30).time(),
                    "work_end": datetime(2000, 1, 1, 17, 30).time(),
                    "work_days": "1,2,3,4,5" if rng.random() < 0.8 else "1,2,3,4,5,6",
                    "active": True,
                    "created_at": at,
                    "updated_at": at,
                    "version": 1,
                },
            )
            self.engineer_user[i] = user_id
            for category in rng.sample(list(CATEGORIES), rng.choice((1, 2, 2, 3))):
                sid += 1
                self.add("engineer_skills", {"id": sid, "engineer_id": i, "category": category})
                self.engineers_by_category[category].append(i)

    # Requests and what their state implies
    def requests(self) -> None:
        rng = self.rng
        states = rng.choices(list(STATE_SHARE), weights=list(STATE_SHARE.values()), k=self.n_requests)
        created = []
        for state in states:
            recent = RECENT_DAYS.get(state)
            if recent:
                back = rng.triangular(0, recent, 0)
            elif state == "revisited":
                back = rng.uniform(3, 365)
            else:
                back = rng.uniform(0.2, 365)
            created.append(self.now - timedelta(days=back, seconds=rng.randint(0, 3600)))
        # Ids follow creation time, as they would in a live system.
        order = sorted(range(self.n_requests), key=lambda i: created[i])
        self.ev_id = self.visit_id = self.cost_id = self.survey_id = 0
        self.status_counts: Counter = Counter()
        self.day_counter: Counter = Counter()
        self.product_counts: Counter = Counter()
        self.problem_counts: Counter = Counter()
        for rid, i in enumerate(order, start=1):
            self.one_request(rid, states[i], created[i])
            if rid % CHUNK == 0:
                self._flush_requests()
        self._flush_requests()
        for day, last in sorted(self.day_counter.items()):
            self.add("number_counters", {"series": f"SR-{day}", "last": last})
        for product_id, count in sorted(self.product_counts.items()):
            self.add("product_request_counts", {"product_id": product_id, "count": count})
        for code, count in sorted(self.problem_counts.items()):
            self.add("problem_type_request_counts", {"problem_type": code, "count": count})

    def one_request(self, rid: int, state: str, at: datetime) -> None:
        from fieldservice.core.clock import local_date
        from fieldservice.requests.operations import due_times

        rng = self.rng
        customer_id = rng.randint(1, self.n_customers)
        equipment = self.equipment_of[customer_id]
        if rng.random() < 0.85:
            equipment_id, product_id = rng.choice(equipment)
        else:
            equipment_id, product_id = None, rng.choice(equipment)[1]
        category = self.product_category[product_id]
        problem = rng.choices(PROBLEM_TYPES, weights=PROBLEM_WEIGHTS)[0][0]
        priority = rng.choices((1, 2, 3, 4), weights=PRIORITY_WEIGHTS)[0]
        # The due times the intake itself computes (priority 4 counts working days).
        response_due, resolution_due = due_times(priority, at)
        required_by = resolution_due + timedelta(hours=rng.choice((0, 0, 0, 24, 48)))
        local_day = local_date(at).strftime("%Y%m%d")
        self.day_counter[local_day] += 1
        dispatcher = rng.choice(self.staff_ids["dispatcher"])
        coverage = rng.choices(("agreement", "warranty", "none"), weights=(35, 25, 40))[0]
        row = {
            "id": rid,
            "number": f"SR-{local_day}-{self.day_counter[local_day]:04d}",
            "customer_id": customer_id,
            "product_id": product_id,
            "equipment_id": equipment_id,
            "service_category": category,
            "problem_type": problem,
            "description": DESCRIPTIONS[problem].replace("{n}", str(rng.randint(1, 99))),
            "priority": priority,
            "channel": rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0],
            "contact_name": _person(rng),
            "contact_phone": _phone(rng),
            "required_by": required_by,
            "response_due": response_due,
            "resolution_due": resolution_due,
            "status": state,
            "engineer_id": None,
            "assigned_at": None,
            "arrived_at": None,
            "deadline_swept": False,
            "visit_count": 0,
            "unsolved_visit_count": 0,
            "urged": False,
            "urge_count": 0,
            "last_urged_at": None,
            "response_breached": False,
            "resolution_breached": False,
            "responded_at": None,
            "resolved_at": None,
            "closed_at": None,
            "agreement_id": None,
            "coverage": coverage,
            "cancel_reason": None,
            "created_by_id": dispatcher,
            "created_at": at,
            "updated_at": at,
            "version": 1,
        }
        self.product_counts[product_id] += 1
        self.problem_counts[problem] += 1
        start = "suspended" if state == "suspended" or rng.random() < 0.03 else "awaiting_assignment"
        self.event(row, at, dispatcher, "create", None, start)
        t = at
        status = start
        if start == "suspended" and state != "suspended":
            t += timedelta(hours=rng.uniform(2, 48))
            status = self.event(
                row, t, dispatcher, "resume", "suspended", "awaiting_assignment", "客户已确认上门时间"
            )
        if state in ("suspended", "awaiting_assignment"):
            self.maybe_urge(row, t)
        elif state == "cancelled":
            t += timedelta(hours=rng.uniform(0.5, 72))
            row["cancel_reason"] = rng.choice(
                ["客户自行解决", "重复报修", "客户取消", "非保修范围,客户放弃维修"]
            )
            self.event(row, t, dispatcher, "cancel", status, "cancelled", row["cancel_reason"])
            row["closed_at"] = t
        elif state == "locked":
            t = max(t, required_by)
            self.event(row, t, None, "lock", status, "locked")
            row["deadline_swept"] = True
        else:
            self.work(row, t, state, dispatcher, category)
        self.flag_breaches(row)
        row["status"] = state
        row["updated_at"] = max(row["updated_at"], t)
        self.add("service_requests", row)
        self.status_counts[state] += 1

    def work(self, row: dict, t: datetime, state: str, dispatcher: int, category: str) -> None:
        """Assigned, resolved or revisited: assignment, travel, visits (some unsolved first), survey."""
        rng = self.rng
        pool = self.engineers_by_category[category] or list(self.engineer_user)
        unsolved_first = state in ("resolved", "revisited") and rng.random() < 0.12
        for attempt in range(2 if unsolved_first else 1):
            engineer = rng.choice(pool)
            t += timedelta(minutes=rng.uniform(5, 240) * (1 if row["priority"] < 3 else 4))
            if rng.random() < 0.15:
                self.event(row, t, self.engineer_user[engineer], "claim", "awaiting_assignment", "assigned")
            else:
                self.event(
                    row,
                    t,
                    dispatcher,
                    "assign",
                    "awaiting_assignment",
                    "assigned",
                    data={"engineer_id": engineer},
                )
            row["engineer_id"], row["assigned_at"] = engineer, t
            if state == "assigned":
                if rng.random() < 0.6:
                    self.event(
                        row, t + timedelta(minutes=rng.uniform(1, 30)), self.engineer_user[engineer], "accept"
                    )
                    row["responded_at"] = t
                self.maybe_urge(row, t)
                return
            user = self.engineer_user[engineer]
            t += timedelta(minutes=rng.uniform(1, 20))
            self.event(row, t, user, "accept")
            row["responded_at"] = row["responded_at"] or t
            t += timedelta(minutes=rng.uniform(10, 120))
            self.event(row, t, user, "depart")
            t += timedelta(minutes=rng.uniform(20, 90))
            self.event(row, t, user, "arrive")
            row["arrived_at"] = arrived = t
            t += timedelta(minutes=rng.uniform(30, 240))
            solved = not (unsolved_first and attempt == 0)
            self.visit(row, engineer, arrived, t, solved)
            if solved:
                self.event(row, t, user, "visit", "assigned", "resolved", "已修复,设备运行正常")
                row["resolved_at"] = t
            else:
                self.event(row, t, user, "visit", "assigned", "awaiting_assignment", "需更换配件,下次上门")
                row["unsolved_visit_count"] += 1
                row["engineer_id"] = row["assigned_at"] = row["arrived_at"] = None
                t += timedelta(hours=rng.uniform(4, 72))
        if state == "revisited":
            t += timedelta(hours=rng.uniform(2, 72))
            callback = rng.choice(self.staff_ids["callback"])
            scores = {
                k: rng.choices((3, 4, 5), weights=(1, 4, 10))[0]
                for k in ("timeliness", "attitude", "quality")
            }
            self.survey_id += 1
            self.add(
                "request_surveys",
                {
                    "id": self.survey_id,
                    "request_id": row["id"],
                    "satisfied": True,
                    **scores,
                    "comment": rng.choice([None, "工程师很专业", "响应及时", "服务态度好"]),
                    "by_id": callback,
                    "at": t,
                },
            )
            self.event(
                row, t, callback, "revisit", "resolved", "revisited", data={"satisfied": True, **scores}
            )
            row["closed_at"] = t
        row["updated_at"] = t

    def visit(self, row: dict, engineer: int, arrived: datetime, finished: datetime, solved: bool) -> None:
        rng = self.rng
        self.visit_id += 1
        hours = Decimal(max(0.5, round((finished - arrived).total_seconds() / 3600 * 2) / 2)).quantize(
            Decimal("0.01")
        )
        self.add(
            "visits",
            {
                "id": self.visit_id,
                "request_id": row["id"],
                "engineer_id": engineer,
                "arrived_at": arrived,
                "finished_at": finished,
                "labour_hours": hours,
                "fault_id": None,
                "fault": DESCRIPTIONS[row["problem_type"]][:20],
                "cause": rng.choice(["密封圈老化", "控制板故障", "传感器失灵", "滤芯堵塞", "电源模块损坏"]),
                "solution": "更换部件并调试" if solved else "已诊断,待配件到货",
                "outcome": "resolved" if solved else "unresolved",
                "signature_id": None,
                "created_by_id": self.engineer_user[engineer],
                "client_op_id": None,
                "created_at": finished,
                "updated_at": finished,
            },
        )
        row["visit_count"] += 1
        for kind, low, high in COST_KINDS:
            if rng.random() < 0.4:
                self.cost_id += 1
                self.add(
                    "visit_costs",
                    {
                        "id": self.cost_id,
                        "visit_id": self.visit_id,
                        "kind": kind,
                        "amount": Decimal(rng.randint(low, high)),
                        "note": None,
                    },
                )

    def maybe_urge(self, row: dict, t: datetime) -> None:
        if self.rng.random() < 0.08:
            at = min(self.now, t + timedelta(hours=self.rng.uniform(1, 24)))
            self.event(row, at, None, "urge", note="客户催单:希望尽快上门")
            row.update(urged=True, urge_count=1, last_urged_at=at)

    def flag_breaches(self, row: dict) -> None:
        responded = row["responded_at"] or self.now
        resolved = row["resolved_at"] or (
            self.now if row["status"] not in ("cancelled",) else row["closed_at"]
        )
        row["response_breached"] = row["status"] != "suspended" and responded > row["response_due"]
        row["resolution_breached"] = row["status"] != "suspended" and resolved > row["resolution_due"]

    def event(
        self, row, at, actor_id, action, from_status=None, to_status=None, note=None, data=None
    ) -> str | None:
        self.ev_id += 1
        label = ""
        if actor_id is not None:
            label = self.rows["users"][actor_id - 1]["name"]
        elif action == "urge":
            label = "客户"
        self.add(
            "request_events",
            {
                "id": self.ev_id,
                "request_id": row["id"],
                "at": at,
                "actor_id": actor_id,
                "actor_label": label,
                "action": action,
                "from_status": from_status,
                "to_status": to_status,
                "note": note,
                "data": data,
            },
        )
        return to_status


# The requests and what they imply, written every CHUNK requests.
CHUNK = 50_000
REQUEST_TABLES = ["service_requests", "request_events", "visits", "visit_costs", "request_surveys"]
MASTER_TABLES = ["users", "products", "problem_types", "customers", "equipment", "engineers", "engineer_skills"]
WRITE_ORDER = [
    "users",
    "products",
    "problem_types",
    "customers",
    "equipment",
    "engineers",
    "engineer_skills",
    "service_requests",
    "request_events",
    "visits",
    "visit_costs",
    "request_surveys",
    "number_counters",
    "product_request_counts",
    "problem_type_request_counts",
]


def add_missing_indexes() -> int:
    """What a database filled by an earlier version of this script lacks: the indexes the models have now."""
    from fieldservice.extensions import db

    started = time.perf_counter()
    with db.engine.begin() as conn:
        db.metadata.create_all(conn)  # new tables, if any
        for table in db.metadata.sorted_tables:
            existing = {ix["name"] for ix in sa.inspect(conn).get_indexes(table.name)}
            for index in sorted(table.indexes, key=lambda i: i.name):
                if index.name not in existing:
                    print(f"  creating {index.name}")
                    index.create(conn)
        postgres = conn.dialect.name == "postgresql"
        if postgres and not conn.scalar(sa.text("SELECT count(*) FROM service_request_counts")):
            # The kept counts of requests per status and priority start from the rows there are (as the migration).
            conn.execute(
                sa.text(
                    "INSERT INTO service_request_counts (status, priority, delta)"
                    " SELECT status, priority, count(*) FROM service_requests GROUP BY status, priority"
                )
            )
    if db.engine.dialect.name == "postgresql":
        db.session.remove()  # no transaction of ours left open to hold VACUUM back (see main)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"indexes added in {time.perf_counter() - started:.1f} s")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--engineers", type=int, default=500)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--reset", action="store_true", help="drop and recreate every table first")
    parser.add_argument(
        "--indexes",
        action="store_true",
        help="only add to a filled database the indexes (and the like) its models have and it lacks, then analyze",
    )
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL"):
        parser.error("set DATABASE_URL (PostgreSQL), e.g. postgresql://postgres@127.0.0.1:5432/fs_reqc_bench")

    from fieldservice import create_app
    from fieldservice.core.clock import seed_calendar
    from fieldservice.extensions import db

    app = create_app({"SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret"), "REDIS_URL": None})
    with app.app_context():
        if args.indexes:
            return add_missing_indexes()
        if args.reset:
            db.drop_all()
        db.create_all()
        if db.session.scalar(sa.text("SELECT count(*) FROM service_requests")):
            print(
                "the database has service requests already: pass --reset to start from scratch",
                file=sys.stderr,
            )
            return 1
        # As a migrated database has it: the due times the generator computes count the public holidays.
        seed_calendar()
        db.session.commit()
        db.session.remove()
        started = time.perf_counter()
        generator = Generator(
            random.Random(args.seed), datetime.now(UTC), args.requests, args.engineers, args.customers
        )
        with db.engine.begin() as conn:
            writer = Writer(conn, db.metadata)
            # The big tables' indexes are built once at the end, not row by row during COPY (several times faster).
            deferred = writer.drop_indexes(REQUEST_TABLES)
            generator.master_data()
            for name in MASTER_TABLES:
                writer.write(name, generator.rows.get(name, []))
            generator.sink = lambda rows: [writer.write(name, rows[name]) for name in REQUEST_TABLES]
            generator.requests()
            for name in WRITE_ORDER:
                if name not in MASTER_TABLES and name not in REQUEST_TABLES:
                    writer.write(name, generator.rows.get(name, []))
            written = time.perf_counter()
            for index in deferred:
                index.create(conn)
            writer.reset_sequences()
        built = written
        indexed = time.perf_counter()
        if db.engine.dialect.name == "postgresql":
            # The due times read the holiday calendar through the session, which stays in its transaction: its
            # snapshot would keep VACUUM from marking any page all-visible (no index-only scans until autovacuum).
            db.session.remove()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE"))
        status = generator.status_counts
        print(f"built and written in {written - started:.1f} s, indexed in {indexed - built:.1f} s")
        for name in WRITE_ORDER:
            print(f"  {name:28} {writer.counts[name]:>9,}")
        print("  by status: " + ", ".join(f"{k} {v:,}" for k, v in status.most_common()))
        print(
            f"logins: bench-dispatcher, bench-manager, bench-callback, "
            f"eng0001..eng{args.engineers:04d} / {PASSWORD}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
