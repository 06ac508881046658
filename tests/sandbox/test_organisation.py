from __future__ import annotations

import re

import pytest

from .conftest import Api, World, connect


@pytest.mark.parametrize(("country", "code", "currency", "timezone", "version"), [
    ("NZ", "NZ", "NZD", "NEWZEALANDSTANDARDTIME", "NZ"),
    ("AU", "AU", "AUD", "AUSEASTERNSTANDARDTIME", "AU"),
    ("UK", "GB", "GBP", "GMTSTANDARDTIME", "UK"),
    ("us", "US", "USD", "UTC", "GLOBAL"),
])
def test_organisation_carries_country_currency_and_timezone(
    world: World, country: str, code: str, currency: str, timezone: str, version: str
) -> None:
    tenant = world.control.create_org(f"Org {country}", country=country, short_code="!Ab12c")
    world.control.grant_access(tenant, "owner@example.com")
    token = connect(world.sandbox, [tenant])
    body = Api(world.base, token["access_token"], tenant).get("Organisation").json()
    [org] = body["Organisations"]
    assert (org["CountryCode"], org["BaseCurrency"], org["Timezone"], org["Version"]) == (
        code, currency, timezone, version)
    assert org["OrganisationID"] == tenant and org["ShortCode"] == "!Ab12c" and org["Name"] == f"Org {country}"
    assert org["OrganisationStatus"] == "ACTIVE" and org["OrganisationType"] == "COMPANY"
    assert re.fullmatch(r"/Date\(\d+\)/", org["CreatedDateUTC"])
    assert world.control.state()["orgs"][-1]["country"] == code


def test_base_currency_can_differ_from_the_country_default(world: World) -> None:
    tenant = world.control.create_org("Kiwi in USD", country="NZ", base_currency="USD")
    assert [o["base_currency"] for o in world.control.state()["orgs"] if o["tenant_id"] == tenant] == ["USD"]
