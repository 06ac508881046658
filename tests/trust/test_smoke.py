from __future__ import annotations

from .world import World


def _phone(area: str, number: str, country: str = "64") -> list[dict[str, str]]:
    return [{"PhoneType": "DEFAULT", "PhoneNumber": number, "PhoneAreaCode": area, "PhoneCountryCode": country}]


def test_demo_like_first_sync() -> None:
    world = World()
    world.connect(world.add_org("Harbour NZ"))
    world.host.add_client(name="Greenleaf Landscaping", email="hello@greenleaf.example", phone="09 555 0101")
    world.host.add_client(name="Coastal Cafe", email="manager@coastalcafe.example", phone="09 555 0104")
    world.host.add_client(name="Bright Spark Electrical", email="accounts@brightspark.example")
    world.seed_contacts(
        {"Name": "greenleaf  landscaping", "Phones": _phone("07", "555 0190")},
        {"Name": "Coastal Cafe Ltd", "EmailAddress": "manager@coastalcafe.example", "Phones": _phone("06", "555 0111")},
        {"Name": "Coastal Café Group", "EmailAddress": "manager@coastalcafe.example"},
        {"Name": "Bright Spark Electrical Ltd", "EmailAddress": "accounts@brightspark.example",
         "Phones": _phone("09", "555 0142")},
    )
    first = world.sync()
    for r in first.records:
        print(r.outcome, r.direction, r.label, "|", r.message, "|", r.details)
    print(first.counts, first.calls)
    names = sorted(c["Name"] for c in world.contacts())
    print(names)
    print([ (c.name, c.phone, c.email) for c in world.host.clients["1"].values()])
    second = world.sync()
    print(second.counts, second.calls, [(r.outcome, r.label) for r in second.records])
    assert len(names) == 4
