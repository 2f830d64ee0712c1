"""Which agreement or warranty covers a request at intake."""

from datetime import UTC, datetime, timedelta

from fieldservice.contracts.operations import Coverage, coverage_for
from fieldservice.core.models import utcnow
from tests.test_contracts.conftest import on


def test_no_agreement_and_no_warranty_is_no_coverage(make_equipment):
    equipment = make_equipment(warranty_until=on(-1))
    assert coverage_for(equipment.customer_id, equipment.id, utcnow()) is None
    assert coverage_for(equipment.customer_id, None, utcnow()) is None


def test_warranty_only(make_equipment):
    equipment = make_equipment(warranty_until=on(10))
    coverage = coverage_for(equipment.customer_id, equipment.id, utcnow())
    assert coverage == Coverage(
        kind="warranty",
        agreement_id=None,
        label=coverage.label,
        response_hours=None,
        resolution_hours=None,
        charging_method="covered",
    )
    assert on(10).isoformat() in coverage.label


def test_warranty_of_another_customers_equipment_does_not_count(make_equipment, make_customer):
    equipment = make_equipment(warranty_until=on(10))
    assert coverage_for(make_customer().id, equipment.id, utcnow()) is None


def test_agreement_beats_warranty(make_equipment, make_agreement):
    equipment = make_equipment(warranty_until=on(100))
    agreement = make_agreement(equipment.customer, [equipment], response_hours=6, resolution_hours=30)
    coverage = coverage_for(equipment.customer_id, equipment.id, utcnow())
    assert coverage.kind == "agreement"
    assert coverage.agreement_id == agreement.id
    assert (coverage.response_hours, coverage.resolution_hours) == (6, 30)
    assert coverage.charging_method == "labour_only"
    assert coverage.label.startswith(agreement.number)


def test_expired_agreement_falls_back_to_warranty(make_equipment, make_agreement):
    equipment = make_equipment(warranty_until=on(100))
    make_agreement(equipment.customer, [equipment], starts_on=on(-400), ends_on=on(-1))
    assert coverage_for(equipment.customer_id, equipment.id, utcnow()).kind == "warranty"


def test_expired_agreement_and_no_warranty_is_none(make_equipment, make_agreement):
    equipment = make_equipment()
    make_agreement(equipment.customer, [equipment], starts_on=on(-400), ends_on=on(-1))
    make_agreement(equipment.customer, [equipment], starts_on=on(1), ends_on=on(300))
    assert coverage_for(equipment.customer_id, equipment.id, utcnow()) is None


def test_agreement_listing_other_equipment_does_not_cover(make_equipment, make_agreement):
    covered = make_equipment()
    other = make_equipment(customer=covered.customer, warranty_until=None)
    make_agreement(covered.customer, [covered])
    assert coverage_for(covered.customer_id, other.id, utcnow()) is None
    # No equipment named at intake: an agreement for particular units does not apply.
    assert coverage_for(covered.customer_id, None, utcnow()) is None


def test_agreement_without_equipment_covers_all_of_the_customers(make_equipment, make_agreement):
    equipment = make_equipment()
    agreement = make_agreement(equipment.customer)
    assert coverage_for(equipment.customer_id, equipment.id, utcnow()).agreement_id == agreement.id
    assert coverage_for(equipment.customer_id, None, utcnow()).agreement_id == agreement.id


def test_another_customers_agreement_never_covers(make_equipment, make_agreement, make_customer):
    equipment = make_equipment()
    make_agreement(make_customer())
    assert coverage_for(equipment.customer_id, equipment.id, utcnow()) is None


def test_the_strictest_of_several_agreements_wins(make_equipment, make_agreement):
    equipment = make_equipment()
    make_agreement(equipment.customer, name="银牌", response_hours=8, resolution_hours=48)
    gold = make_agreement(
        equipment.customer,
        [equipment],
        name="金牌",
        response_hours=4,
        resolution_hours=24,
        charging_method="covered",
    )
    make_agreement(equipment.customer, [equipment], name="按次", response_hours=4, resolution_hours=72)
    assert coverage_for(equipment.customer_id, equipment.id, utcnow()).agreement_id == gold.id


def test_validity_is_judged_on_the_site_calendar_day(app, make_equipment, make_agreement):
    equipment = make_equipment()
    make_agreement(equipment.customer, starts_on=on(-10), ends_on=on(2))
    # The last day is covered until midnight in Shanghai (16:00 UTC), not until midnight UTC.
    last_day = on(2)
    before = datetime(last_day.year, last_day.month, last_day.day, 15, 59, tzinfo=UTC)
    after = before + timedelta(minutes=2)
    assert coverage_for(equipment.customer_id, equipment.id, before) is not None
    assert coverage_for(equipment.customer_id, equipment.id, after) is None


def test_intake_stores_the_coverage_and_its_stricter_due_times(db, make_equipment, make_agreement, make_user):
    from fieldservice.requests.models import ProblemType
    from fieldservice.requests.operations import create_request

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
    equipment = make_equipment()
    agreement = make_agreement(equipment.customer, [equipment], response_hours=4, resolution_hours=24)
    now = utcnow()
    sr = create_request(
        {
            "customer_id": equipment.customer_id,
            "equipment_id": equipment.id,
            "problem_type": "leak",
            "description": "漏水",
            "priority": 3,
            "required_by": now + timedelta(days=3),
        },
        make_user("dispatcher"),
        now=now,
    )
    assert (sr.coverage, sr.agreement_id) == ("agreement", agreement.id)
    assert sr.response_due == now + timedelta(hours=4)
    assert sr.resolution_due == now + timedelta(hours=24)
