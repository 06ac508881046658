"""The worker process of ``flask xerosync worker``: RQ's forking worker, tuned for fast, quiet recovery.

**A dead worker is known within seconds, through RQ's own bookkeeping.** While a job runs, the
worker renews the job's entry in the queue's ``StartedJobRegistry`` every ``job_monitoring_interval``
seconds, each time for :meth:`SyncWorker.get_heartbeat_ttl` seconds. RQ's defaults (a 30 s interval,
entries kept for the interval + 60 s) leave a killed worker's run looking alive for up to 90 s; with
``heartbeat`` seconds between renewals and entries kept for ``2 × heartbeat + 2`` s (one missed
heartbeat is tolerated), the entry of a dead worker expires about 12 s after its last heartbeat
(default 5 s). ``StartedJobRegistry.cleanup()`` then moves the job to the failed registry, which
:func:`flask_xerosync.services.run_status.reconcile` runs whenever a page or Sync Now! looks at the run.

**A work-horse dies with its worker** (on Linux, through ``PR_SET_PDEATHSIG``): RQ puts each
work-horse in a process group of its own, so a supervisor that kills the worker's group would
otherwise leave it running a run that is already reported dead, beside the run that continues it.

**A Redis blip does not end the process.** Heartbeats and the job's progress writes
(:class:`ProgressJob`) are best-effort: a :class:`~redis.exceptions.RedisError` there is logged and
the work-horse goes on. When the work loop itself loses Redis, it is ended cleanly and started again
once Redis answers (pinged with tenacity's exponential backoff), as a worker of a new name (the old one's hash may have
survived the restart without its death being recorded). RQ's scheduler (a child process) dies on a
Redis error; idle workers look for a missing scheduler every minute (:data:`MAINTENANCE_INTERVAL`).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from types import FrameType
from typing import Any
from uuid import uuid4

from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.job import Job
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

logger = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 5
"""Seconds between heartbeats of a running job (``flask xerosync worker --heartbeat``)."""
MAINTENANCE_INTERVAL = 60
"""Seconds between RQ's maintenance passes of an idle worker (RQ: 600), in which it also starts a
scheduler when none holds the lock, so a scheduler lost with its worker or to a Redis blip is
replaced within about a minute; ``WORKER_TTL`` makes an idle worker's blocking wait for a job
(``WORKER_TTL - 15`` s) short enough for that, and lets a dead idle worker drop out of ``rq info``
after ``WORKER_TTL + 60`` s (RQ: 420 s)."""
WORKER_TTL = 75
RECONNECT_WAIT_MAX = 30
"""The longest pause, in seconds, between attempts to start the work loop again without Redis."""
PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: the signal a process gets when its parent dies."""


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux only; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        logger.warning("xerosync: the work-horse cannot follow its worker (prctl errno %s)", ctypes.get_errno())
    elif os.getppid() != parent_pid:
        os._exit(1)  # the worker died before the kernel was told


def heartbeat_ttl(heartbeat: int) -> int:
    """How long one heartbeat keeps a running job alive: two heartbeats and 2 s to spare."""
    return 2 * heartbeat + 2


class ProgressJob(Job):
    """An RQ job whose ``save_meta`` (the run's live progress) is best-effort: the run's outcome
    lives in the database, so losing Redis for a moment must not stop the sync."""

    def save_meta(self) -> None:
        try:
            super().save_meta()
        except RedisError as exc:
            logger.warning("xerosync: could not save the progress of job %s (%s); the run goes on", self.id, exc)


class SyncWorker(Worker):
    """RQ's forking worker with a short heartbeat and a work loop that survives Redis blips."""

    job_class = ProgressJob

    def __init__(self, queues: list[Queue], *, heartbeat: int = DEFAULT_HEARTBEAT, **kwargs: Any) -> None:
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL)
        super().__init__(queues, job_monitoring_interval=heartbeat, **kwargs)
        self._redis_lost: RedisError | None = None
        self._worker_pid = os.getpid()

    def setup_work_horse_signals(self) -> None:
        super().setup_work_horse_signals()
        die_with_parent(self._worker_pid)

    def get_heartbeat_ttl(self, job: Job) -> int:
        return heartbeat_ttl(self.job_monitoring_interval)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            return
        try:
            super().heartbeat(timeout)
        except RedisError as exc:
            logger.warning("xerosync: worker %s could not send its heartbeat (%s)", self.name, exc)

    def maintain_heartbeats(self, job: Job) -> None:
        try:
            super().maintain_heartbeats(job)
        except RedisError as exc:
            logger.warning("xerosync: worker %s could not renew job %s (%s); the run goes on", self.name, job.id, exc)

    def set_current_job_working_time(self, current_job_working_time: float, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:
            super().set_current_job_working_time(current_job_working_time, pipeline=pipeline)
            return
        try:
            super().set_current_job_working_time(current_job_working_time)
        except RedisError as exc:
            self.current_job_working_time = current_job_working_time
            logger.warning("xerosync: worker %s could not record the job's working time (%s)", self.name, exc)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        try:
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        except RedisError as exc:
            self._lose_redis(exc)
            return None

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        except RedisError as exc:
            self._lose_redis(exc)

    def _lose_redis(self, exc: RedisError) -> None:
        """End this work loop cleanly (RQ's loop would end on its own, with no way to tell why)."""
        self._redis_lost = exc
        raise StopRequested from exc

    def work(self, burst: bool = False, **kwargs: Any) -> bool:  # type: ignore[override]
        """RQ's work loop, started again whenever it loses Redis, once Redis answers again."""
        while True:
            try:
                return self._work_once(burst, **kwargs)
            except RedisError as exc:
                logger.warning("xerosync: worker %s lost Redis (%s); starting again once it answers", self.name, exc)
            try:
                self._await_redis()
            except (RedisError, StopRequested):
                return False  # asked to stop while Redis was away
            self.name = uuid4().hex

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """RQ's warm shutdown, remembered first: while Redis is away RQ's own handler fails
        (it reads the worker's state from Redis), and the loop must still not start again."""
        self._stop_requested = True
        super().request_stop(signum, frame)

    def teardown(self) -> None:
        """RQ's teardown, best-effort: without Redis the worker's death cannot be recorded (its
        hash expires), but its pub/sub listener thread must still end before the loop starts again."""
        try:
            super().teardown()
        except RedisError as exc:
            logger.warning("xerosync: worker %s could not record its stop (%s)", self.name, exc)
            if self.pubsub_thread is not None:
                self.pubsub_thread.stop()
                self.pubsub_thread.join(timeout=1)
                self.pubsub_thread = None

    def _work_once(self, burst: bool, **kwargs: Any) -> bool:
        self._redis_lost = None
        worked = super().work(burst=burst, **kwargs)
        if self._redis_lost is not None:
            raise self._redis_lost
        return worked

    def _await_redis(self) -> None:
        """Ping Redis with exponential backoff (each outage starts again from a short wait)."""
        for attempt in Retrying(
            retry=retry_if_exception_type(RedisError),
            wait=wait_exponential(multiplier=0.5, max=RECONNECT_WAIT_MAX),
            stop=lambda retry_state: self._stop_requested,
            before_sleep=self._before_retry,
            reraise=True,
        ):
            with attempt:
                self.connection.ping()

    def _before_retry(self, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0
        logger.warning("xerosync: worker %s still without Redis (%s); next try in %.1f s", self.name, exc, wait)
