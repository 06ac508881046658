"""A client Xero refuses is reported once: a flagged invoice that needs it is not pushed (nor is the
client sent again for it); the invoice says why, naming the client, and stays flagged for the sync
after the client is fixed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_xerosync.xero.results import WriteResult
from tests.sync.conftest import Rig

REFUSAL = "EmailAddress must be a valid email address."


class RefusingXero:
    """The run's Xero API, except that Xero refuses the contacts named in ``refused`` (as it does a
    contact failing its validation: the element echoed with the message)."""

    def __init__(self, api: Any, refused: set[str]) -> None:
        self.api = api
        self.refused = refused
        self.sent: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    def create_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self._write(records, self.api.create_contacts)

    def upsert_contacts(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self._write(records, self.api.upsert_contacts)

    def _write(self, records: Sequence[dict[str, Any]], write: Any) -> list[WriteResult]:
        self.sent.extend(str(record.get("Name")) for record in records)
        accepted = [index for index, record in enumerate(records) if record.get("Name") not in self.refused]
        results: dict[int, WriteResult] = {
            index: WriteResult(index, False, {**records[index], "HasValidationErrors": True}, [REFUSAL])
            for index in range(len(records)) if index not in accepted
        }
        if accepted:
            for result in write([records[index] for index in accepted]):
                original = accepted[result.index]
                results[original] = WriteResult(original, result.ok, result.record, result.messages, result.warnings)
        return [results[index] for index in range(len(records))]


def failed(counts: dict[str, dict[str, int]]) -> int:
    return sum(outcomes.get("failed", 0) for outcomes in counts.values())


def seed_two_refused(rig: Rig) -> dict[str, str]:
    """Two clients Xero will refuse and one it accepts, each with a flagged invoice."""
    invoices = {}
    for number, name in (("HFS-3001", "Refused Ruru"), ("HFS-3002", "Refused Kea"), ("HFS-3003", "Fine Tui")):
        client_id = rig.add_client(name, f"{name.split()[-1].lower()}@birds.example")
        invoices[name] = rig.add_invoice(number, client_id, [("Labour", "1", "95.00", None, True)])
    return invoices


def assert_reported_once(rig: Rig, result: Any, invoices: dict[str, str], xero: RefusingXero) -> None:
    assert sorted(xero.sent.count(name) for name in ("Refused Ruru", "Refused Kea")) == [1, 1]
    assert failed(result.counts) == 2, result.counts
    assert result.of("clients", "failed") == 2
    assert result.of("invoices", "created") == 1 and result.of("invoices", "skipped") == 2
    assert [invoice["InvoiceNumber"] for invoice in rig.invoices()] == ["HFS-3003"]
    for name in ("Refused Ruru", "Refused Kea"):
        flag = rig.flag_of(invoices[name])
        assert flag.state == "flagged"
        [row] = [r for r in result.rows("skipped", "invoices") if r.host_id == invoices[name]]
        assert f"its client {name} was refused by Xero: {REFUSAL}; fix the client, then sync again" in row.message
        assert flag.message == row.message


def test_a_refused_client_is_counted_once_and_its_invoice_waits(rig: Rig) -> None:
    invoices = seed_two_refused(rig)
    xero: list[RefusingXero] = []

    def refusing(api: Any) -> RefusingXero:
        xero.append(RefusingXero(api, {"Refused Ruru", "Refused Kea"}))
        return xero[-1]

    result = rig.sync(wrap_api=refusing, sync_items=False)
    assert_reported_once(rig, result, invoices, xero[0])

    again = rig.sync(sync_items=False)
    assert failed(again.counts) == 0, again.counts
    assert sorted(invoice["InvoiceNumber"] for invoice in rig.invoices()) == ["HFS-3001", "HFS-3002", "HFS-3003"]
    assert all(rig.flag_of(invoice_id).state == "pushed" for invoice_id in invoices.values())


def test_a_client_refused_when_an_invoice_needs_it_is_counted_once(rig: Rig) -> None:
    invoices = seed_two_refused(rig)
    xero: list[RefusingXero] = []

    def refusing(api: Any) -> RefusingXero:
        xero.append(RefusingXero(api, {"Refused Ruru", "Refused Kea"}))
        return xero[-1]

    result = rig.sync(wrap_api=refusing, sync_clients=False, sync_items=False)
    assert_reported_once(rig, result, invoices, xero[0])
