"""Runs that RQ expired or cancelled, the run page's log and filters, and one account never seeing
another's runs."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from rq.job import Job

from example_app.models import Business
from flask_xerosync.models import Outcome, RecordResult, Run, RunStatus
from flask_xerosync.services.run_status import CANCELLED, ENQUEUE_GRACE, EXPIRED_IN_QUEUE
from flask_xerosync.state import current_state

from .conftest import BASIC_LOGIN, HTMX, csrf_token, db_session, login, run_id_in, run_row, sync_now

RUNS = "/settings/accounting-sync/runs/"


def job_of(app: Flask, run_id: str) -> Job:
    with app.app_context():
        return Job.fetch(run_row(app, run_id).job_id or "", connection=current_state().redis)


def test_queued_fragment_polls_itself(connected, app, harbour_client):
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    fragment = harbour_client.get(f"{RUNS}{run_id}/progress", headers=HTMX).get_data(as_text=True)
    assert f'hx-get="{RUNS}{run_id}/progress"' in fragment
    assert 'hx-trigger="load delay:1s"' in fragment and 'hx-swap="outerHTML"' in fragment
    assert "waiting for the sync worker" in fragment
    assert 'role="progressbar"' in fragment and "aria-valuenow" not in fragment
    assert 'aria-labelledby="xerosync-progress-label"' in fragment


def age_run(app: Flask, run_id: str, by: timedelta) -> None:
    with db_session(app) as session:
        run = session.get(Run, run_id)
        run.created_at -= by
        session.commit()


def test_a_queued_run_still_being_enqueued_is_left_alone(connected, app, harbour_client):
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    job_of(app, run_id).delete()
    fragment = harbour_client.get(f"{RUNS}{run_id}/progress").get_data(as_text=True)
    assert "hx-trigger" in fragment
    assert run_row(app, run_id).status == RunStatus.QUEUED


def test_a_run_whose_job_expired_shows_expired(connected, app, harbour_client):
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    job_of(app, run_id).delete()
    age_run(app, run_id, ENQUEUE_GRACE + timedelta(seconds=1))
    fragment = harbour_client.get(f"{RUNS}{run_id}/progress").get_data(as_text=True)
    assert "Sync expired" in fragment and EXPIRED_IN_QUEUE in fragment
    assert "hx-trigger" not in fragment
    assert run_row(app, run_id).status == RunStatus.EXPIRED
    assert run_id_in(sync_now(harbour_client).get_data(as_text=True)) != run_id


def test_a_cancelled_job_shows_cancelled(connected, app, harbour_client):
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    job_of(app, run_id).cancel()
    fragment = harbour_client.get(f"{RUNS}{run_id}/progress").get_data(as_text=True)
    assert "Sync cancelled" in fragment and CANCELLED in fragment
    assert run_row(app, run_id).status == RunStatus.CANCELLED
    page = harbour_client.get("/settings/accounting-sync/").get_data(as_text=True)
    assert "Cancelled" in page


def test_run_page_filters_and_escapes_the_record_log(connected, app, harbour_client):
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    job_of(app, run_id).cancel()
    with db_session(app) as session:
        session.add_all([
            RecordResult(run_id=run_id, stage="clients", direction="to_xero", outcome=Outcome.FAILED,
                         label="<script>alert(1)</script>", host_id="3",
                         message="The contact name X is already assigned to another contact.",
                         fix="Rename one of them."),
            RecordResult(run_id=run_id, stage="clients", direction="to_xero", outcome=Outcome.NEEDS_REVIEW,
                         label="Coastal Cafe", host_id="4",
                         details={"record": {"side": "host", "id": "4", "label": "Coastal Cafe"},
                                  "candidates": [{"side": "xero", "id": "abc", "label": "Coastal Café <b>",
                                                  "email": "", "rules": ["email"]}]}),
            *[RecordResult(run_id=run_id, stage="clients", direction="to_host", outcome=Outcome.CREATED,
                           label=f"Created {n}") for n in range(60)],
        ])
        session.commit()
    page = harbour_client.get(f"{RUNS}{run_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "All (62)" in page and "Failed (1)" in page and "Needs review (1)" in page
    assert "Page 1 of 2" in page and "Next page" in page
    failed = harbour_client.get(f"{RUNS}{run_id}?filter=failed").get_data(as_text=True)
    assert "already assigned" in failed and "Rename one of them." in failed
    assert "Coastal Cafe" not in failed
    review = harbour_client.get(f"{RUNS}{run_id}?filter=needs_review").get_data(as_text=True)
    assert "Coastal Café &lt;b&gt;" in review
    assert 'value="link:abc" required' in review
    assert "create it in Xero as new" in review and "Leave it out of the sync" in review


def test_a_decision_must_name_one_of_the_records_listed(connected, app, harbour_client):
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    job_of(app, run_id).cancel()
    with db_session(app) as session:
        record = RecordResult(run_id=run_id, stage="clients", direction="to_xero", outcome=Outcome.NEEDS_REVIEW,
                              label="Coastal Cafe", host_id="4",
                              details={"record": {"side": "host", "id": "4", "label": "Coastal Cafe"},
                                       "candidates": [{"side": "xero", "id": "abc", "label": "Coastal Café",
                                                       "email": "", "rules": ["name"]}]})
        session.add(record)
        session.commit()
        record_id = record.id
    token = csrf_token(harbour_client, f"{RUNS}{run_id}?filter=needs_review")
    response = harbour_client.post(f"{RUNS}{run_id}/records/{record_id}/decide",
                                   data={"csrf_token": token, "decision": "link:not-offered"})
    assert response.status_code == 302
    page = harbour_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Choose one of the records listed" in page
    refused = harbour_client.post(f"{RUNS}{run_id}/records/{record_id}/decide", data={"decision": "create"})
    assert refused.status_code == 400


def test_another_account_cannot_see_or_touch_a_run(connected, app, harbour_client):
    run_id = run_id_in(sync_now(harbour_client).get_data(as_text=True))
    with db_session(app) as session:
        session.get(Business, 2).plan = "pro"
        session.add(RecordResult(run_id=run_id, stage="clients", direction="to_xero", outcome=Outcome.NEEDS_REVIEW,
                                 label="Coastal Cafe", host_id="4", details={"candidates": []}))
        session.commit()
        record_id = session.query(RecordResult).filter_by(run_id=run_id).one().id
    other = app.test_client()
    login(other, *BASIC_LOGIN)
    assert other.get(f"{RUNS}{run_id}").status_code == 404
    assert other.get(f"{RUNS}{run_id}/progress").status_code == 404
    token = csrf_token(other, "/settings/accounting-sync/")
    assert other.post(f"{RUNS}{run_id}/records/{record_id}/create", data={"csrf_token": token}).status_code == 404
    assert other.post(f"{RUNS}{run_id}/records/{record_id}/link",
                      data={"csrf_token": token, "xero_contact_id": "x"}).status_code == 404
    assert run_id not in other.get("/settings/accounting-sync/").get_data(as_text=True)

