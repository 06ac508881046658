"""One bad record, dropped responses, 5xx storms and interrupted runs: nothing lost, nothing doubled."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from flask_xerosync.host import Client
from flask_xerosync.sync.clients import writing
from tests.sync.conftest import Rig


class Interrupted(RuntimeError):
    """The worker "died" here."""


class FlakyHost:
    """The example app's HostData, failing at a chosen point like a killed worker would."""

    def __init__(self, inner: object, *, fail_on_save: int) -> None:
        self.inner = inner
        self.saves = 0
        self.fail_on_save = fail_on_save

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def save_clients(self, account_id: str, clients: Sequence[Client]) -> list[str]:
        self.saves += 1
        if self.saves == self.fail_on_save:
            raise Interrupted("worker killed while saving clients")
        return self.inner.save_clients(account_id, clients)  # type: ignore[attr-defined]


def _host(rig: Rig) -> object:
    from flask_xerosync.state import current_state

    with rig.app.app_context():
        return current_state().host_data


def test_one_bad_record_fails_alone_and_the_rest_of_its_batch_succeeds(rig: Rig) -> None:
    rig.add_client("Good One", "one@x.example")
    bad = rig.add_client("   ", "nameless@x.example")
    rig.add_client("Good Two", "two@x.example")

    result = rig.sync(sync_items=False, sync_invoices=False)

    assert result.of("clients", "created") == 2
    [failed] = result.rows("failed")
    assert failed.host_id == bad
    assert failed.message == "The contact name must be specified."
    assert "A name (or code) is required by Xero" in failed.fix
    assert sorted(c["Name"] for c in rig.contacts()) == ["Good One", "Good Two"]


def test_a_dropped_response_after_commit_and_a_500_storm_create_no_duplicate(rig: Rig) -> None:
    waits = rig.record_waits()
    for number in range(3):
        rig.add_client(f"Client {number}", f"c{number}@x.example")
    rig.control.faults(rig.tenant, fail_next=[500, 503, 502], methods=["PUT"])
    rig.sync(sync_items=False, sync_invoices=False)
    rig.control.faults(rig.tenant, drop_next=1, methods=["PUT"])
    rig.add_client("Client 3", "c3@x.example")

    result = rig.sync(sync_items=False, sync_invoices=False)

    assert result.of("clients", "created") == 1
    counters = rig.control.counters(rig.tenant)
    assert counters["by_status"].get("500", 0) + counters["by_status"].get("503", 0) >= 2
    assert sorted(c["Name"] for c in rig.contacts()) == [f"Client {n}" for n in range(4)]
    assert len(rig.links("client")) == 4
    assert len(waits) >= 4  # three 5xx and the dropped answer were retried after a backoff


def test_a_run_interrupted_while_saving_here_resumes_without_loss_or_duplicates(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writing, "HOST_ONLY_LIMIT", 50)  # host saves in batches of 50
    rig.seed_contacts(*({"Name": f"Xero Contact {n:03d}", "EmailAddress": f"x{n}@x.example"} for n in range(120)))
    flaky = FlakyHost(_host(rig), fail_on_save=3)

    with pytest.raises(Interrupted):
        rig.sync(host=flaky, page_size=50, sync_items=False, sync_invoices=False)
    assert len(rig.clients()) == 100  # two batches committed, the third lost
    assert len(rig.links("client")) == 100

    result = rig.sync(page_size=50, sync_items=False, sync_invoices=False)

    assert result.of("clients", "created") == 20
    assert len(rig.clients()) == 120 and len(rig.contacts()) == 120
    assert len({c.name for c in rig.clients()}) == 120


def test_a_run_interrupted_while_pushing_resumes_without_loss_or_duplicates(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_xerosync.xero.api import XeroApi

    for number in range(120):
        rig.add_client(f"Host Client {number:03d}", f"h{number}@x.example")
    real, calls = XeroApi.create_contacts, []

    def die_on_the_second_batch(self: XeroApi, records: list[dict]) -> list:  # type: ignore[type-arg]
        calls.append(len(records))
        if len(calls) == 2:
            raise Interrupted("worker killed while pushing clients")
        return real(self, records)

    monkeypatch.setattr(XeroApi, "create_contacts", die_on_the_second_batch)
    with pytest.raises(Interrupted):
        rig.sync(sync_items=False, sync_invoices=False)
    monkeypatch.setattr(XeroApi, "create_contacts", real)
    assert calls == [50, 50]
    assert len(rig.contacts()) == 50 and len(rig.links("client")) == 50  # batch 1 written and committed

    result = rig.sync(sync_items=False, sync_invoices=False)

    assert result.of("clients", "created") == 70
    assert len(rig.contacts()) == 120 and len(rig.links("client")) == 120
    assert len({c["Name"] for c in rig.contacts()}) == 120


def test_a_crash_after_xero_took_the_write_but_before_our_commit_creates_no_duplicate(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_xerosync.xero.api import XeroApi

    for number in range(3):
        rig.add_client(f"Client {number}", f"c{number}@x.example")
    real = XeroApi.create_contacts

    def write_then_die(self: XeroApi, records: list[dict]) -> list:  # type: ignore[type-arg]
        real(self, records)
        raise Interrupted("worker killed before the links were committed")

    monkeypatch.setattr(XeroApi, "create_contacts", write_then_die)
    with pytest.raises(Interrupted):
        rig.sync(sync_items=False, sync_invoices=False)
    monkeypatch.setattr(XeroApi, "create_contacts", real)
    assert len(rig.contacts()) == 3 and rig.links("client") == []

    rig.sync(sync_items=False, sync_invoices=False)

    assert len(rig.contacts()) == 3 and len(rig.links("client")) == 3


def test_a_disconnected_organisation_stops_the_run_at_the_connect_check(rig: Rig) -> None:
    from flask_xerosync.errors import ReconnectNeeded

    rig.add_client("Quay Cafe", "cafe@quay.example")
    rig.control.revoke_connection(tenant_id=rig.tenant)

    with pytest.raises(ReconnectNeeded, match="no longer connected"):
        rig.sync(sync_items=False, sync_invoices=False)
    assert rig.api_calls() == 0 and rig.contacts() == [] and rig.links("client") == []


def test_the_connect_check_is_one_of_the_runs_counted_calls(rig: Rig) -> None:
    result = rig.sync(sync_clients=False, sync_invoices=False)

    assert result.calls == 2  # the organisation's: GET Organisation (its country, once) and GET Items
    assert [e.api_calls for e in result.events if e.stage == "connect"][-1] == 1
    assert result.events[-1].api_calls == 3  # /connections is tenant-less, but a call all the same
