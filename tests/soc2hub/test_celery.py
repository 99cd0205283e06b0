"""Celery: the beat entry and job registry (no broker needed), and a real worker consuming
from Redis (``require_redis``: skipped locally without REDIS_URL, a failure under CI=true)."""

import datetime as dt
import uuid

import pytest
from celery import Celery
from django.conf import settings
from django.db import connections

from soc2hub import jobs, tasks
from soc2hub.apps import DAILY_TASK_NAME, ensure_daily_schedule
from tests.factories import ControlFactory, TeamFactory

EVIDENCE_JOBS = ["evidence.open_requests", "evidence.reminders", "evidence.team_digests", "evidence.verify"]


# --- the schedule, no broker needed -------------------------------------------------------------

def test_daily_beat_entry_exists_after_migrate(db):
    from django_celery_beat.models import PeriodicTask

    entry = PeriodicTask.objects.select_related("crontab").get(name=DAILY_TASK_NAME)
    assert DAILY_TASK_NAME == "soc2hub: daily jobs"
    assert entry.task == "soc2hub.tasks.run_daily_jobs"
    assert entry.enabled
    assert (entry.crontab.minute, entry.crontab.hour) == ("0", str(settings.DAILY_JOBS_HOUR))
    assert str(entry.crontab.timezone) == settings.TIME_ZONE
    assert entry.task in tasks.run_daily_jobs.app.tasks


def test_an_hour_changed_in_the_admin_survives_the_next_migrate(db):
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    entry = PeriodicTask.objects.get(name=DAILY_TASK_NAME)
    entry.crontab = CrontabSchedule.objects.create(minute="30", hour="3", timezone=settings.TIME_ZONE)
    entry.save()
    ensure_daily_schedule(sender=None)
    entry = PeriodicTask.objects.select_related("crontab").get(name=DAILY_TASK_NAME)
    assert (entry.crontab.minute, entry.crontab.hour) == ("30", "3")
    assert PeriodicTask.objects.filter(task="soc2hub.tasks.run_daily_jobs").count() == 1


def test_the_evidence_jobs_are_registered_in_order():
    names = list(jobs.registered_jobs())
    assert [n for n in names if n.startswith("evidence.")] == EVIDENCE_JOBS
    # opening comes before reminding, so a request opened today can be reminded today
    assert names.index("evidence.open_requests") < names.index("evidence.reminders")


def test_the_task_runs_the_jobs_in_process(db):
    """The eager path the embedded runner and tests use: same task, same jobs."""
    result = tasks.run_daily_jobs.apply(args=["2026-11-26"]).get()
    assert set(EVIDENCE_JOBS) <= set(result)
    assert result["evidence.team_digests"]["week"] == "2026-W48"


# --- a real worker on Redis -------------------------------------------------------------------

@pytest.fixture
def redis_worker(require_redis, monkeypatch):
    """An embedded worker (solo pool, in a thread) consuming from Redis, on an app configured
    like soc2hub.celery's but not eager, and on a queue of its own so no other worker on the
    same Redis can take the test's tasks."""
    from celery.contrib.testing.worker import start_worker

    from soc2hub.celery import app as project_app

    monkeypatch.setenv("CELERY_SKIP_CHECKS", "1")  # the Django checks already ran for pytest
    queue = f"soc2hub-test-{uuid.uuid4().hex[:8]}"
    app = Celery("soc2hub-test")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        broker_url=require_redis, result_backend=require_redis, task_always_eager=False,
        task_default_queue=queue, worker_hijack_root_logger=False, broker_connection_retry_on_startup=True,
    )
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield app
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
        app.close()
        # start_worker made the test app current and default; give the project's (eager) app back.
        project_app.set_current()
        project_app.set_default()
        assert project_app.conf.task_always_eager
        connections.close_all()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_answers_through_redis(redis_worker):
    result = tasks.ping.delay("x")
    assert result.app is redis_worker
    assert result.get(timeout=20) == "pong:x"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_daily_jobs_run_on_the_worker_and_open_requests(redis_worker):
    from evidence.models import EvidenceRequest, EvidenceTemplate

    hr = TeamFactory(name="HR", slug="hr")
    EvidenceTemplate.objects.create(
        control=ControlFactory(evidence_owner=hr), owner_team=hr, title="Termination tickets",
        instructions="Leavers and their tickets.", acceptance_criteria="Every leaver has a ticket.",
        cadence="quarterly", starts_on=dt.date(2026, 1, 1), opens_days_after_period_end=0,
        due_days_after_period_end=14,
    )

    result = tasks.run_daily_jobs.delay("2026-11-26").get(timeout=30)

    assert result["evidence.open_requests"]["opened"] == 3
    assert sorted(EvidenceRequest.objects.values_list("period_label", flat=True)) == [
        "2026-Q1", "2026-Q2", "2026-Q3"]
    # Once a day on the worker too: the day's run is claimed.
    again = tasks.run_daily_jobs.delay("2026-11-26").get(timeout=30)
    assert again["evidence.open_requests"]["status"] == "skipped"
    assert EvidenceRequest.objects.count() == 3
