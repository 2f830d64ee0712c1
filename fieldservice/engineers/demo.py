"""Demo data: twelve Shanghai field engineers (eng01..eng12, password "engineer") with skills, zones and
leave.

Everything goes through engineers.operations, the same code the API and the console use.
"""

from datetime import UTC, datetime, time, timedelta

from fieldservice.engineers import operations as ops

# name, zone, (lat, lng) of home, skills, cap, shift
ENGINEERS = [
    (
        "张建国",
        "浦东新区",
        (31.2231, 121.5452),
        ["air_conditioner", "water_purifier"],
        6,
        (time(8, 30), time(17, 30)),
    ),
    ("李明辉", "浦东新区", (31.2050, 121.6010), ["elevator"], 4, (time(8, 0), time(17, 0))),
    ("王志强", "徐汇区", (31.1880, 121.4372), ["printer", "medical"], 5, (time(8, 30), time(17, 30))),
    ("刘海波", "徐汇区", (31.1705, 121.4310), ["air_conditioner"], 5, (time(9, 0), time(18, 0))),
    ("陈晓东", "静安区", (31.2302, 121.4470), ["water_purifier", "printer"], 6, (time(8, 30), time(17, 30))),
    ("杨伟", "静安区", (31.2410, 121.4555), ["elevator", "air_conditioner"], 4, (time(8, 0), time(20, 0))),
    ("赵磊", "闵行区", (31.1125, 121.3820), ["medical"], 5, (time(8, 30), time(17, 30))),
    (
        "周俊",
        "闵行区",
        (31.0950, 121.4010),
        ["air_conditioner", "water_purifier"],
        5,
        (time(8, 30), time(17, 30)),
    ),
    ("吴涛", "杨浦区", (31.2601, 121.5255), ["printer", "water_purifier"], 5, (time(8, 30), time(17, 30))),
    ("徐斌", "杨浦区", (31.2800, 121.5100), ["elevator"], 4, (time(8, 0), time(17, 0))),
    (
        "孙立新",
        "嘉定区",
        (31.3742, 121.2660),
        ["air_conditioner", "medical", "printer"],
        6,
        (time(8, 30), time(17, 30)),
    ),
    ("马超", "嘉定区", (31.3300, 121.2400), ["water_purifier", "elevator"], 5, (time(8, 30), time(17, 30))),
]


def seed(rng, context: dict) -> None:
    actor = context.get("users", {}).get("admin")
    engineers = []
    for n, (name, zone, (lat, lng), skills, cap, (start, end)) in enumerate(ENGINEERS, start=1):
        engineer = ops.create_engineer(
            {
                "username": f"eng{n:02d}",
                "password": "engineer",
                "name": name,
                "phone": "139" + "".join(str(rng.randint(0, 9)) for _ in range(8)),
                "skills": skills,
                "zone": zone,
                # Homes spread a little around the listed point (a few hundred metres).
                "lat": round(lat + rng.uniform(-0.004, 0.004), 5),
                "lng": round(lng + rng.uniform(-0.004, 0.004), 5),
                "max_open_jobs": cap,
                "work_start": start,
                "work_end": end,
                # Every third engineer covers Saturdays too.
                "work_days": [1, 2, 3, 4, 5, 6] if n % 3 == 0 else [1, 2, 3, 4, 5],
            },
            actor,
        )
        engineers.append(engineer)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # One engineer on annual leave this week, one with a training day next week.
    ops.add_leave(
        engineers[3],
        {"starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=4), "reason": "年假"},
        actor,
    )
    ops.add_leave(
        engineers[8],
        {"starts_at": now + timedelta(days=7), "ends_at": now + timedelta(days=8), "reason": "厂家技术培训"},
        actor,
    )
    context["engineers"] = engineers
