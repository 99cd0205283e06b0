"""Readiness: can this deployment do its work now? ``/readyz`` runs one check per dependency and
answers 503 naming each that is down. Liveness (``/healthz``) is only "the process answers".

The checks are django-health-check's where it has one (database, storage, a Celery worker's
ping) and two of soc2hub's own (the broker, and the beat's last tick, which the job sweeper
records every minute: soc2hub.jobqueue). Each result says what is wrong in a fixed sentence;
exceptions' text (hosts, paths, driver messages) goes to the log, never to the anonymous caller.
The worker is only pinged when the broker answers: a ping through a dead broker would only wait.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
import dataclasses
import datetime as dt
import logging
import time

from celery.app import app_or_default
from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from health_check.base import HealthCheck
from health_check.checks import Database, Storage
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

TIMEOUT = dt.timedelta(seconds=3)


@dataclasses.dataclass
class Broker(HealthCheck):
    """A real connection to Celery's broker (Redis, or the filesystem queue of ``make run``)."""

    timeout = TIMEOUT

    def run(self):
        app = app_or_default()  # soc2hub.celery's app (a test may make another current)
        try:
            with app.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=self.timeout.total_seconds())
                conn.default_channel  # noqa: B018  (opens the channel: a transport that is up)
        except Exception as exc:
            raise ServiceUnavailable("unreachable") from exc


@dataclasses.dataclass
class BeatTick(HealthCheck):
    """The job sweeper, scheduled by beat and run by a worker, ran recently."""

    timeout = TIMEOUT

    def run(self):
        from soc2hub.jobqueue import beat_tick

        try:
            last = beat_tick()
        except Exception as exc:
            raise ServiceUnavailable("cache unreadable") from exc
        if last is None:
            raise ServiceUnavailable("no tick recorded")
        if timezone.now() - last > dt.timedelta(seconds=settings.BEAT_TICK_MAX_AGE_SECONDS):
            raise ServiceUnavailable("last tick too old")


def _checks() -> dict[str, tuple[HealthCheck, str]]:
    """Name → (check, what the caller is told when it fails)."""
    app = app_or_default()
    checks = {}
    for alias in settings.DATABASES:
        name = "database" if alias == "default" else f"database:{alias}"
        checks[name] = (Database(alias=alias), "The database did not answer.")
    checks["broker"] = (Broker(), "The task queue's broker cannot be reached.")
    checks["worker"] = (Ping(app=app, timeout=TIMEOUT, limit=1), "No Celery worker answered a ping.")
    checks["beat"] = (BeatTick(), "The scheduler (beat) has not run the job sweeper recently.")
    checks["storage"] = (Storage(), "File storage is not writable.")
    return checks


def _result_of(check: HealthCheck):
    """django-health-check's checks are coroutines. Under a server there is no event loop in the
    request's thread; where one is already running (an ASGI thread, a browser test driving the
    live server from the same thread), the check gets a thread and a loop of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(check.get_result())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, check.get_result()).result()


def readiness() -> tuple[bool, dict]:
    """Run every check, one after the other; (all up, details per check)."""
    results = {}
    for name, (check, down) in _checks().items():
        if name == "worker" and not results["broker"]["ok"]:
            results[name] = {"ok": False, "error": "Not pinged: the broker is down."}
            continue
        started = time.monotonic()
        result = _result_of(check)
        seconds = round(time.monotonic() - started, 3)
        if result.error is None:
            results[name] = {"ok": True, "seconds": seconds}
        else:
            logger.warning("Readiness check %s failed: %r", name, result.error)
            results[name] = {"ok": False, "error": down, "seconds": seconds}
    return all(r["ok"] for r in results.values()), results


# --- the views: anonymous, outside the second-factor middleware (soc2hub.auth), never cached ----

@never_cache
def healthz(request):
    """Liveness: the process answers. Touches no dependency, so it is 200 whenever the app runs —
    a database or broker outage is readiness' business (``/readyz``), not a reason to restart."""
    return JsonResponse({"status": "alive"})


@never_cache
def readyz(request):
    """Readiness: 200 when every dependency is up, else 503; JSON details per check."""
    ready, checks = readiness()
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)
