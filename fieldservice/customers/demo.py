"""Demo data: products of the five categories, Shanghai customers with contacts, and their installed equipment.

Everything goes through the same operations the API and the console use.
"""

from datetime import date, timedelta

from fieldservice.customers import operations as ops

PRODUCTS = [
    # name, model, category
    ("商用中央空调 多联机", "GMV-H180WL", "air_conditioner"),
    ("风冷模块机组", "MAC-130A", "air_conditioner"),
    ("商用反渗透净水器", "RO-800G", "water_purifier"),
    ("开水器 步进式", "KS-60B", "water_purifier"),
    ("乘客电梯", "EL-P1000", "elevator"),
    ("自动扶梯", "ES-600", "elevator"),
    ("黑白激光复印机", "MP-5055", "printer"),
    ("彩色数码复合机", "C-3530", "printer"),
    ("全自动生化分析仪", "BS-480", "medical"),
    ("医用冷藏箱", "YC-560L", "medical"),
]

# zone, (lat, lng) of its centre, streets
ZONES = {
    "浦东新区": ((31.2215, 121.5440), ["张江路", "世纪大道", "陆家嘴环路", "金科路", "川沙路"]),
    "徐汇区": ((31.1885, 121.4365), ["漕溪北路", "宜山路", "肇嘉浜路", "龙华中路"]),
    "静安区": ((31.2290, 121.4480), ["南京西路", "延平路", "共和新路", "万航渡路"]),
    "闵行区": ((31.1130, 121.3815), ["莘庄路", "七莘路", "虹梅南路", "都市路"]),
    "杨浦区": ((31.2595, 121.5260), ["五角场", "国权路", "黄兴路", "控江路"]),
    "嘉定区": ((31.3750, 121.2650), ["城北路", "博乐路", "安亭镇墨玉路"]),
}

# Each customer with the kinds of equipment such a place has (a kindergarten has no biochemical analyzer).
AC, WATER, LIFT, PRINT, MED = "air_conditioner", "water_purifier", "elevator", "printer", "medical"
COMPANIES = [
    ("上海绿源餐饮管理有限公司", (AC, WATER)),
    ("华东医院门诊部", (MED, AC, WATER, LIFT)),
    ("明德实验学校", (AC, WATER, PRINT)),
    ("金桥科技园物业", (AC, LIFT)),
    ("悦来酒店", (AC, WATER, LIFT)),
    ("仁济社区卫生服务中心", (MED, WATER)),
    ("恒通物流仓储", (AC, PRINT)),
    ("东方商厦", (AC, LIFT)),
    ("星河数码印务", (PRINT, AC)),
    ("新华书店门店", (AC, PRINT)),
    ("博雅口腔诊所", (MED, WATER)),
    ("佳美超市连锁", (AC, LIFT)),
    ("申城会计师事务所", (PRINT, WATER)),
    ("锦江之星连锁酒店", (AC, WATER, LIFT)),
    ("瑞丰律师事务所", (PRINT, WATER)),
    ("康泰养老院", (MED, AC, WATER)),
    ("江南制药研究所", (MED, AC)),
    ("百盛咖啡", (WATER, AC)),
    ("远景软件园", (AC, LIFT, PRINT)),
    ("海派健身中心", (AC, WATER)),
    ("南洋模范中学", (AC, WATER, PRINT)),
    ("中心医院检验科", (MED, AC)),
    ("宏达汽车4S店", (AC, PRINT)),
    ("阳光幼儿园", (AC, WATER)),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "军", "霞", "涛", "明", "超"]
TITLES = ["行政主管", "设备科科长", "后勤经理", "店长", "物业工程部主管", "采购"]


def _person(rng) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _phone(rng) -> str:
    return "1" + rng.choice("35789") + "".join(str(rng.randint(0, 9)) for _ in range(9))


def seed(rng, context: dict) -> None:
    actor = context.get("users", {}).get("admin")
    products = [
        ops.create_product({"name": name, "model": model, "category": category}, actor)
        for name, model, category in PRODUCTS
    ]
    customers, equipment = [], []
    today = date.today()
    for index, (company, kinds) in enumerate(COMPANIES):
        zone = list(ZONES)[index % len(ZONES)]
        (lat, lng), streets = ZONES[zone]
        customer = ops.create_customer(
            {
                "name": company,
                "phone": _phone(rng),
                "address": f"上海市{zone}{rng.choice(streets)}{rng.randint(1, 1999)}号",
                "zone": zone,
                "lat": round(lat + rng.uniform(-0.03, 0.03), 6),
                "lng": round(lng + rng.uniform(-0.03, 0.03), 6),
                "email": f"service{index + 1:02d}@example.cn",
            },
            actor,
        )
        for _ in range(rng.randint(1, 2)):
            ops.add_contact(
                customer, {"name": _person(rng), "title": rng.choice(TITLES), "phone": _phone(rng)}, actor
            )
        for unit in range(rng.randint(1, 3)):
            product = rng.choice([p for p in products if p.category in kinds])
            installed = today - timedelta(days=rng.randint(30, 1500))
            equipment.append(
                ops.create_equipment(
                    {
                        "customer_id": customer.id,
                        "product_id": product.id,
                        "serial_number": f"{product.model}-{installed:%y%m}{index:02d}{unit}{rng.randint(100, 999)}",
                        "installed_on": installed,
                        # Two years of warranty: about half the demo units are still covered.
                        "warranty_until": installed + timedelta(days=730),
                        "location": rng.choice(
                            ["一楼大厅", "地下设备间", "三楼机房", "后厨", "检验科", "办公区"]
                        ),
                    },
                    actor,
                )
            )
        customers.append(customer)
    context["products"] = products
    context["customers"] = customers
    context["equipment"] = equipment
