"""One colour and type scale: the console, the engineers' PWA and the customer's pages (the request's and the
unit's) load the same tokens.css
first, and their own stylesheets take every colour from it, so the three read as one product."""

import re
from datetime import timedelta
from pathlib import Path

from fieldservice.core.models import utcnow

ROOT = Path(__file__).resolve().parents[2]
TOKENS = ROOT / "fieldservice/core/static/css/tokens.css"
STYLESHEETS = [
    ROOT / "fieldservice/core/static/css/app.css",
    ROOT / "pwa/app.css",
    *sorted((ROOT / "fieldservice").glob("*/static/**/*.css")),
]
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b|\brgb\(|\bhsl\(")


def _stylesheets_of(html: str) -> list[str]:
    return re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)


def test_only_the_tokens_define_colours():
    offenders = {}
    for sheet in STYLESHEETS:
        if sheet == TOKENS or "vendor" in sheet.parts:
            continue
        found = [line.strip() for line in sheet.read_text().splitlines() if COLOUR.search(line.replace("rgba(", ""))]
        if found:
            offenders[str(sheet.relative_to(ROOT))] = found[:3]
    assert not offenders, f"colours outside tokens.css: {offenders}"
    assert "--brand:" in TOKENS.read_text() and "--fs-base:" in TOKENS.read_text()


def test_console_pwa_and_customer_page_load_the_tokens_first(client, db, make_equipment, make_user):
    from fieldservice.reports.operations import urls_for
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
    equipment = make_equipment()
    sr = ops.create_request(
        {
            "customer_id": equipment.customer_id,
            "equipment_id": equipment.id,
            "problem_type": "leak",
            "description": "漏水",
            "priority": 2,
            "required_by": utcnow() + timedelta(days=1),
        },
        make_user("dispatcher"),
    )
    db.session.commit()
    customer_path = "/" + urls_for(sr)["url"].split("://", 1)[1].split("/", 1)[1]

    from fieldservice.selfservice.operations import issue_label

    unit_path = "/e/" + issue_label(equipment, make_user("manager"))
    db.session.commit()
    pages = {"console": "/login", "pwa": "/app/", "customer": customer_path, "equipment": unit_path}
    for name, path in pages.items():
        with client.get(path) as answer:
            assert answer.status_code == 200, (name, answer.status_code)
            sheets = _stylesheets_of(answer.get_data(as_text=True))
        assert sheets and sheets[0].split("?")[0].endswith("tokens.css"), (name, sheets)
        with client.get(sheets[0]) as tokens:
            assert tokens.status_code == 200 and tokens.get_data() == TOKENS.read_bytes(), name


def test_the_pwa_precaches_the_tokens_for_offline_use(client):
    with client.get("/app/precache-manifest.js") as answer:
        manifest = answer.get_data(as_text=True)
    assert '"/app/tokens.css"' in manifest
