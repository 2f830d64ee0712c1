"""What the engineers' pages read from elsewhere: loads counted by the layer that holds the jobs, zones in use."""

from fieldservice.engineers import operations as ops
from fieldservice.engineers import signals


def test_loads_come_from_the_layer_that_counts_the_jobs(app, engineer_factory, request_factory, assign):
    busy, idle = engineer_factory(), engineer_factory()
    assign(request_factory(), busy)
    assert ops.current_loads([busy.id, idle.id]) == {busy.id: 1, idle.id: 0}
    # Without a receiver (no domain above counts jobs) every engineer holds none.
    with signals.loads_wanted.muted():
        assert ops.current_loads([busy.id, idle.id]) == {busy.id: 0, idle.id: 0}
    assert ops.current_loads([]) == {}


def test_zones_are_those_of_customers_and_engineers(app, make_customer, engineer_factory):
    make_customer(zone="嘉定区")
    make_customer(zone=None)
    engineer_factory(zone="浦东新区")
    engineer_factory(zone="嘉定区")
    assert ops.zones() == ["嘉定区", "浦东新区"]
