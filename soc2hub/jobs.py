"""The daily jobs: one registry that the beat schedule, ``run_daily_jobs`` and tests all run.

Apps register their jobs with ``@daily_job("name")``; each job takes the day it runs for
(``as_of``, a date in ``settings.TIME_ZONE``) and returns a small dict of figures. Every job
must be idempotent: running it twice, concurrently, or for a past day changes nothing more.

Each job runs once per day, in its own failure boundary:

* **Claimed by the database.** A run inserts the job's ``JobRun`` row for the day; the unique
  (job, day) constraint refuses a second beat or a second ``run_daily_jobs``, which skips it.
* **Taken over, retried.** A claim whose process died (no heartbeat for ``STALE_AFTER``) and a
  failed run are claimed again with a conditional ``UPDATE`` (one winner), each counting an
  attempt, up to ``MAX_ATTEMPTS`` a day; ``force`` runs a finished job again on the same row.
* **Isolated.** A job that raises is recorded failed (type, message, short traceback), Security
  is alerted once for that job and day, and the jobs after it still run.
* **Transactions.** Every job registered today commits row by row on purpose (each request or
  reminder with its record): a long run holds no locks (on SQLite, no lock on the whole
  database) and a failure keeps what was done, which the retry completes. So a job is not
  wrapped by default; one that writes several rows without managing its own transactions
  registers with ``atomic=True`` and runs in one.
"""

import datetime as dt
import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from soc2hub.models import JobRun, JobRunStatus

logger = logging.getLogger(__name__)

DailyJobFunc = Callable[[dt.date], dict]

# A running claim whose heartbeat is older than this belongs to a process that died.
STALE_AFTER = dt.timedelta(minutes=30)
# How often a running job's heartbeat is written: well inside STALE_AFTER.
HEARTBEAT_EVERY = dt.timedelta(minutes=1)
# Attempts a day per job, counting takeovers and retries; ``force`` is not limited.
MAX_ATTEMPTS = 3
TRACEBACK_LINES = 20


@dataclass(frozen=True)
class DailyJob:
    name: str
    func: DailyJobFunc
    atomic: bool


_REGISTRY: dict[str, DailyJob] = {}


def daily_job(name: str, *, atomic: bool = False):
    """Register a daily job; ``atomic=True`` runs it in one transaction (all or nothing)."""

    def register(func: DailyJobFunc) -> DailyJobFunc:
        _REGISTRY[name] = DailyJob(name=name, func=func, atomic=atomic)
        return func

    return register


def registered_jobs() -> dict[str, DailyJobFunc]:
    """The jobs in the order they run, by name."""
    return {name: job.func for name, job in _REGISTRY.items()}


@contextmanager
def registry_restored() -> Iterator[None]:
    """Jobs registered inside the block are gone after it (tests register jobs of their own)."""
    saved = dict(_REGISTRY)
    try:
        yield
    finally:
        _REGISTRY.clear()
        _REGISTRY.update(saved)


def run_daily_jobs(as_of: dt.date | None = None, only: list[str] | None = None, *,
                   force: bool = False) -> dict[str, dict]:
    """Run every registered job (or ``only`` these) for ``as_of`` (today by default), each in
    its own failure boundary. Returns each job's outcome: ``status`` (done, failed or
    skipped), its figures and ``seconds`` when it ran, ``error`` when it failed, ``reason``
    when it was not run."""
    as_of = as_of or timezone.localdate()
    outcomes = {}
    for name, job in list(_REGISTRY.items()):
        if only and name not in only:
            continue
        outcomes[name] = _run_one(job, as_of, force=force)
        logger.info("daily job %s for %s: %s", name, as_of, outcomes[name])
    return outcomes


def failed_jobs(outcomes: dict[str, dict]) -> list[str]:
    return [name for name, outcome in outcomes.items() if outcome["status"] == JobRunStatus.FAILED]


def _run_one(job: DailyJob, day: dt.date, *, force: bool) -> dict:
    run, skipped = _claim(job.name, day, force=force)
    if run is None:
        return skipped
    started = time.monotonic()
    try:
        with _heartbeat(run):
            figures = _call(job, day) or {}
    except Exception as exc:  # noqa: BLE001 - the boundary: recorded, alerted, and the next job runs
        seconds = round(time.monotonic() - started, 3)
        error = _describe(exc)
        logger.error("daily job %s for %s failed (attempt %d): %s", job.name, day, run.attempts, error)
        _finish(run, JobRunStatus.FAILED, {"seconds": seconds}, error)
        job_failure_alert(run=run)
        return {"status": JobRunStatus.FAILED.value, "seconds": seconds, "attempt": run.attempts,
                "error": error.split("\n", 1)[0]}
    figures = {**_as_json(figures), "seconds": round(time.monotonic() - started, 3)}
    _finish(run, JobRunStatus.DONE, figures, "")
    return {"status": JobRunStatus.DONE.value, **figures}


def _call(job: DailyJob, day: dt.date) -> dict:
    if job.atomic or connection.in_atomic_block:
        # Inside a caller's transaction (tests, the demo seed) a savepoint keeps a failing job
        # from spoiling it; a job that commits row by row is never wrapped otherwise.
        with transaction.atomic():
            return job.func(day)
    return job.func(day)


def _claim(name: str, day: dt.date, *, force: bool) -> tuple[JobRun | None, dict]:
    """The run this process may now do, or None and the outcome that says why not."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return JobRun.objects.create(job=name, day=day, started_at=now, heartbeat_at=now), {}
    except IntegrityError:
        pass  # the day's row exists: taken over, retried, forced, or left alone
    run = JobRun.objects.get(job=name, day=day)
    stale = Q(status=JobRunStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    if force:
        claimable = stale | Q(status__in=[JobRunStatus.DONE, JobRunStatus.FAILED])
    else:
        claimable = (stale | Q(status=JobRunStatus.FAILED)) & Q(attempts__lt=MAX_ATTEMPTS)
    claimed = JobRun.objects.filter(claimable, pk=run.pk, attempts=run.attempts).update(
        status=JobRunStatus.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
        finished_at=None, error="", result={},
    )
    if claimed:
        run.refresh_from_db()
        return run, {}
    run.refresh_from_db()
    return None, _why_not(run)


def _why_not(run: JobRun) -> dict:
    if run.status == JobRunStatus.DONE:
        return {"status": "skipped", "reason": f"done at {timezone.localtime(run.finished_at):%H:%M} "
                                               f"(attempt {run.attempts})"}
    if run.status == JobRunStatus.RUNNING:
        return {"status": "skipped", "reason": f"running since {timezone.localtime(run.started_at):%H:%M}"}
    # Failed, and out of attempts for the day: still a failure of the day's run.
    return {"status": JobRunStatus.FAILED.value, "attempt": run.attempts, "error": run.error_summary,
            "reason": f"failed {run.attempts} times; not retried again today (force runs it)"}


def _finish(run: JobRun, status: str, result: dict, error: str) -> None:
    """Record the outcome, unless the run was taken over meanwhile (its attempts moved on)."""
    run.status, run.result, run.error, run.finished_at = status, result, error, timezone.now()
    recorded = JobRun.objects.filter(pk=run.pk, attempts=run.attempts, status=JobRunStatus.RUNNING).update(
        status=status, result=result, error=error, finished_at=run.finished_at, heartbeat_at=run.finished_at)
    if not recorded:
        logger.warning("daily job %s for %s was taken over while it ran; its outcome is not recorded",
                       run.job, run.day)


@contextmanager
def _heartbeat(run: JobRun) -> Iterator[None]:
    """Keep the claim fresh from a thread while the job runs, so only a dead process's claim
    goes stale. The thread uses its own connection and touches the database only every
    ``HEARTBEAT_EVERY``."""
    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(HEARTBEAT_EVERY.total_seconds()):
                try:
                    JobRun.objects.filter(pk=run.pk, attempts=run.attempts, status=JobRunStatus.RUNNING).update(
                        heartbeat_at=timezone.now())
                except Exception:  # noqa: BLE001 - one missed heartbeat (a lock, a dropped connection) is retried next time
                    logger.warning("could not write the heartbeat of %s", run, exc_info=True)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat {run.job}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _describe(exc: BaseException) -> str:
    """``Type: message`` on the first line, then the last lines of the traceback."""
    head = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    lines = "".join(traceback.format_exception(exc)).rstrip().splitlines()
    return "\n".join([head, "", *lines[-TRACEBACK_LINES:]])


def _as_json(figures: dict) -> dict:
    """The figures as the JSON the row keeps (dates become ISO strings)."""
    return json.loads(json.dumps(figures, cls=DjangoJSONEncoder))


def job_failure_alert(*, run: JobRun) -> bool:
    """Tell Security, once per job and day, that a daily job failed: in the app, by e-mail and in
    the activity log. ``alerted_at`` is claimed with a conditional ``UPDATE`` in the same
    transaction, so two runs never alert twice and an alert that fails is tried again by the
    next failing attempt. Returns whether this call alerted."""
    from django.urls import reverse

    from soc2hub.notifications import notify, security_people
    from soc2hub.services import activity_record

    summary = run.error_summary[:200]
    subject = f"Daily job {run.job} failed for {run.day.day} {run.day:%b %Y}: {summary}"
    try:
        with transaction.atomic():
            if not JobRun.objects.filter(pk=run.pk, alerted_at__isnull=True).update(alerted_at=timezone.now()):
                return False
            notify(users=security_people(), kind="job.failed", subject=subject, template="job_failed",
                   context={"run": run}, url=reverse("job_list"))
            activity_record(actor=None, verb="job_run.failed", obj=run, message=subject,
                            after={"job": run.job, "day": run.day.isoformat(), "attempt": run.attempts,
                                   "error": summary})
    except Exception:  # noqa: BLE001 - alerting must not stop the next job; the next attempt alerts
        logger.exception("could not alert Security that %s failed", run)
        return False
    return True


# --- reads for the Jobs page and the API ---------------------------------------------------------

def last_runs(runs: QuerySet) -> dict[str, JobRun]:
    """Each job's latest run among ``runs`` (already restricted), by job name: one query."""
    latest = runs.filter(job=OuterRef("job")).order_by("-day").values("pk")[:1]
    return {run.job: run for run in runs.filter(pk=Subquery(latest))}
