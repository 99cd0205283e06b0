"""Liveness (/healthz) and readiness (/readyz) with real dependencies: a throwaway Redis that is
stopped, a real worker that is there or not, beat's tick recorded by the sweeper running on that
worker, a database alias that points at a closed port, storage that cannot be written."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from soc2hub import jobqueue, tasks
from tests.conftest import missing
from tests.services import celery_on, free_port, wait_for

CHECKS = {"database", "broker", "worker", "beat", "storage"}


def ready(client):
    response = client.get("/readyz")
    body = response.json()
    assert body["status"] == ("ready" if response.status_code == 200 else "not ready")
    return response.status_code, {name: check["ok"] for name, check in body["checks"].items()}, body


def test_liveness_answers_without_touching_anything(client):
    """Anonymous, and with no database at all (this test may not use it: a query would raise), so
    a database outage never makes /healthz fail; readiness is where it shows."""
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "alive"}
    assert "no-cache" in response["Cache-Control"]


@pytest.fixture
def shared_cache(settings, throwaway_redis):
    """The cache the worker writes the beat tick to (Redis, as in production)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": throwaway_redis.url}}
    yield
    cache.close()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_ready_when_every_dependency_is_up_and_not_when_one_is_down(
        client, settings, tmp_path, shared_cache, throwaway_redis, workers):
    with celery_on(throwaway_redis.url):
        # Redis up, but no worker yet and the sweeper never ran.
        status, checks, body = ready(client)
        assert status == 503 and set(checks) == CHECKS
        assert checks == {"database": True, "broker": True, "worker": False, "beat": False, "storage": True}
        assert body["checks"]["worker"]["error"] == "No Celery worker answered a ping."
        assert body["checks"]["beat"]["error"] == "The scheduler (beat) has not run the job sweeper recently."

        workers.start()
        wait_for(lambda: ready(client)[1]["worker"], interval=0.5, timeout=30,
                 what=f"the worker to answer pings\n{workers.log()}")
        tasks.sweep_jobs.delay()  # what beat sends every minute; the worker records the tick
        wait_for(lambda: ready(client)[0] == 200, interval=0.5, timeout=20, what="readiness")
        status, checks, body = ready(client)
        assert status == 200 and all(checks.values())
        assert "redis://" not in str(body) and str(throwaway_redis.port) not in str(body)  # no addresses out

        # Beat stopped: its last tick grows old.
        cache.set(jobqueue.BEAT_TICK_KEY, (timezone.now() - dt.timedelta(minutes=10)).timestamp(), timeout=None)
        status, checks, _ = ready(client)
        assert status == 503 and not checks["beat"] and checks["worker"]

        # Storage that cannot be written: its directory's place is taken by a file.
        blocker = tmp_path / "blocker"
        blocker.write_text("not a directory")
        settings.STORAGES = {**settings.STORAGES, "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": blocker / "media"}}}
        status, checks, body = ready(client)
        assert status == 503 and not checks["storage"]
        assert body["checks"]["storage"]["error"] == "File storage is not writable."

        # The broker down: the worker is not even pinged.
        throwaway_redis.stop()
        status, checks, body = ready(client)
        assert status == 503 and not checks["broker"] and not checks["worker"] and not checks["beat"]
        assert body["checks"]["broker"]["error"] == "The task queue's broker cannot be reached."
        assert body["checks"]["worker"]["error"] == "Not pinged: the broker is down."


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@pytest.mark.django_db(transaction=True)
def test_a_database_that_does_not_answer_is_named(client, settings):
    default = settings.DATABASES["default"]
    if default["ENGINE"] != "django.db.backends.postgresql":
        missing("PostgreSQL (set DATABASE_URL): the unreachable alias is a PostgreSQL server on a closed port")
    unreachable = {**default, "HOST": "127.0.0.1", "PORT": str(free_port()), "NAME": "nothing_here",
                   "OPTIONS": {**default.get("OPTIONS", {}), "connect_timeout": 2}}
    try:
        with override_settings(DATABASES={**settings.DATABASES, "reporting": unreachable}):
            del connections.settings  # the handler caches its aliases
            response = client.get("/readyz")
    finally:
        del connections.settings
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database:reporting"] == {"ok": False, "error": "The database did not answer.",
                                                    "seconds": body["checks"]["database:reporting"]["seconds"]}
    assert "nothing_here" not in response.content.decode()
