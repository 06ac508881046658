"""The transport tells whoever listens (``on_retry``) of each retry after Xero failed to answer, before
it waits, so a run's progress can say "Xero is slow: retrying, 2 of 6"; limit waits (429) are not
slowness and are not reported this way."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flask_xerosync.errors import XeroUnavailable
from flask_xerosync.xero.api import XeroApi

from .support import Org, SleepRecorder


class Heard:
    """Records each ``on_retry`` with the waits already made when it came."""

    def __init__(self, sleep: SleepRecorder) -> None:
        self.sleep = sleep
        self.retries: list[tuple[int, int, int]] = []

    def __call__(self, attempt: int, attempts: int) -> None:
        self.retries.append((attempt, attempts, len(self.sleep.waits)))


def listening(make_client: Callable[..., XeroApi], **options: object) -> tuple[XeroApi, Heard]:
    recorder = SleepRecorder(really=False)
    client = make_client(sleep=recorder, **options)
    heard = Heard(recorder)
    client.on_retry = heard
    return client, heard


def test_each_retry_is_reported_before_its_wait(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.faults(org.tenant_id, fail_next=[500, 503, 502])
    client, heard = listening(make_client, max_retries=5)
    assert client.get_organisation()["Name"] == "Client Tests Ltd"
    assert heard.retries == [(2, 6, 0), (3, 6, 1), (4, 6, 2)], "the try coming next, of all tries, before its wait"


def test_the_last_retry_is_reported_before_giving_up(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.faults(org.tenant_id, fail_next=[503] * 10)
    client, heard = listening(make_client, max_retries=2)
    with pytest.raises(XeroUnavailable):
        client.get_accounts()
    assert [(attempt, attempts) for attempt, attempts, _ in heard.retries] == [(2, 3), (3, 3)]


def test_a_call_answered_at_once_reports_nothing(org: Org, make_client: Callable[..., XeroApi]) -> None:
    client, heard = listening(make_client)
    client.get_organisation()
    assert heard.retries == []


def test_a_limit_wait_is_not_reported_as_slowness(org: Org, make_client: Callable[..., XeroApi]) -> None:
    org.control.faults(org.tenant_id, fail_next=[429])
    client, heard = listening(make_client)
    client.get_organisation()
    assert client.calls == 2 and heard.retries == []
