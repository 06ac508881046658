"""Progress that never freezes (issue 11, part 5): while Xero is retried the run's progress says so
("Xero is slow: retrying, 2 of 6"), and the line goes once the run moves on."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from rq.job import Job

from flask_xerosync.models import RunKind, RunStatus
from flask_xerosync.state import current_state

from .conftest import HTMX, OrgSetup, run_row, work_queue
from .test_push_now import push, runs_of

SLOW = "Xero is slow: retrying, 2 of 6"


def progress_html(client: FlaskClient, run_id: str) -> str:
    return client.get(f"/settings/accounting-sync/runs/{run_id}/progress", headers=HTMX).get_data(as_text=True)


def save_meta(app: Flask, job_id: str, **values: object) -> None:
    with app.app_context():
        job = Job.fetch(job_id, connection=current_state().redis)
        job.meta.update(values)
        job.save_meta()


def test_the_retry_is_in_the_jobs_progress_while_it_waits(connected: OrgSetup, app: Flask,
                                                          harbour_client: FlaskClient) -> None:
    push(harbour_client, "2")
    [run] = runs_of(app, RunKind.PUSH)
    seen: list[object] = []

    def wait(seconds: float) -> None:
        """The retry's wait: what the progress says at that moment."""
        with app.app_context():
            seen.append(Job.fetch(run.job_id, connection=current_state().redis).get_meta().get("retry"))

    with app.app_context():
        current_state().sleep = wait
    connected.sandbox.control.faults(connected.tenant_id, fail_next=[503, 502], methods=["POST"])
    work_queue(app)

    done = run_row(app, run.id)
    assert done.status == RunStatus.DONE, done.error
    assert [2, 6] in seen and [3, 6] in seen
    with app.app_context():
        assert Job.fetch(run.job_id, connection=current_state().redis).get_meta().get("retry") is None


def test_the_progress_shows_the_retry_and_drops_it(connected: OrgSetup, app: Flask,
                                                   harbour_client: FlaskClient) -> None:
    push(harbour_client, "2")
    [run] = runs_of(app, RunKind.PUSH)
    progress = {"stages": ["connect", "items", "invoices"], "stage": "invoices", "done": 0, "total": 1,
                "counts": {}, "api_calls": 4}
    save_meta(app, run.job_id, retry=[2, 6], **progress)
    html = progress_html(harbour_client, run.id)
    assert SLOW in html and "Pushing, step 3 of 3: Invoices (0 of 1 invoices)" in html
    assert 'hx-trigger="load delay:1s"' in html, "polling goes on, briskly"

    save_meta(app, run.job_id, retry=None, done=1)
    html = progress_html(harbour_client, run.id)
    assert "Xero is slow" not in html and "(1 of 1 invoices)" in html


def test_a_finished_runs_fragment_stops_polling(connected: OrgSetup, app: Flask, harbour_client: FlaskClient) -> None:
    push(harbour_client, "2")
    [run] = runs_of(app, RunKind.PUSH)
    work_queue(app)
    html = progress_html(harbour_client, run.id)
    assert "hx-trigger" not in html and "Xero is slow" not in html
    settings = harbour_client.get("/settings/accounting-sync/").get_data(as_text=True)
    assert f'/runs/{run.id}">Push of' in settings, "Recent syncs lists the push run as a push"
