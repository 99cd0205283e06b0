"""Queued work that is never orphaned: enqueue after commit, remember whether the broker took it,
and a sweeper that queues again what the broker never got or what a dead worker dropped.

A job row (a report, an NHI import, ...) has ``enqueued_at``: when its task was sent, empty when
the broker refused it. ``enqueue_on_commit`` sends the task once the row is committed; when
the broker refuses (Redis down), the row's ``enqueued_at`` is emptied and ``raise_if_unqueued``
tells the request, which answers 503 with ``QUEUE_DOWN`` (``QueueUnavailableMiddleware``): the
work is kept and starts when the queue is back. Asking again queues the same row again.

Apps register a sweep with ``@job_sweep("name")``; the beat task ``soc2hub.tasks.sweep_jobs``
runs them every minute. A sweep queues again (a) rows the broker never took, (b) rows whose
worker stopped beating (``JOB_STALE_SECONDS``: killed, out of memory, host lost) and (c) rows
queued so long ago that their message was probably lost with the broker's data
(``JOB_LOST_SECONDS``). Tasks claim their rows with a conditional UPDATE, so a task sent twice
does the work once. Each run of the sweeper also records the beat's tick, which ``/readyz``
reads (soc2hub.health).
"""

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone

logger = logging.getLogger(__name__)

QUEUE_DOWN = "The task queue is unavailable; your {what} will start when it is back."
BEAT_TICK_KEY = "soc2hub:beat-tick"
# A publish waits this long for the broker, in all, before the request is told it is down.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}

Sweep = Callable[[], dict]
_SWEEPS: dict[str, Sweep] = {}


class QueueUnavailable(Exception):
    """The broker did not take a task; the job row was kept and the sweeper will queue it."""

    def __init__(self, obj, what: str):
        super().__init__(QUEUE_DOWN.format(what=what))
        self.obj, self.message = obj, QUEUE_DOWN.format(what=what)


def stale_before() -> dt.datetime:
    """A running job whose last heartbeat is older than this lost its worker."""
    return timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS)


def lost_before() -> dt.datetime:
    """A queued job sent before this and never started is sent again (its message may be gone)."""
    return timezone.now() - dt.timedelta(seconds=settings.JOB_LOST_SECONDS)


def send(task, *args) -> bool:
    """Publish ``task(*args)`` now; False (logged) when the broker cannot be reached."""
    try:
        task.apply_async(args=args, retry=True, retry_policy=PUBLISH_RETRY)
    except Exception:  # kombu's OperationalError, redis' ConnectionError, OSError: all mean "not queued"
        logger.warning("Could not queue %s%r: the broker is unavailable", task.name, args, exc_info=True)
        return False
    return True


def enqueue(obj, task, *args) -> bool:
    """Send the task for a committed row and stamp ``enqueued_at``; on failure empty it, so the
    sweeper finds the row. Sets ``obj.queue_failed`` for the request that asked."""
    queued = send(task, *args)
    type(obj).objects.filter(pk=obj.pk).update(enqueued_at=timezone.now() if queued else None)
    obj.enqueued_at = timezone.now() if queued else None
    obj.queue_failed = not queued
    return queued


def enqueue_on_commit(obj, task, *args) -> None:
    """Queue the task once the caller's transaction commits (never for a row that rolled back).
    The row is stamped now, in that transaction, as on its way: an empty ``enqueued_at`` then
    always means "the broker refused it", never "about to be sent" (a second click that sees it
    does not send it again). A process that dies between commit and send leaves a stamp that
    never starts: the sweeper's ``JOB_LOST_SECONDS`` rule sends it again."""
    obj.queue_failed = False
    obj.enqueued_at = timezone.now()
    type(obj).objects.filter(pk=obj.pk).update(enqueued_at=obj.enqueued_at)
    transaction.on_commit(lambda: enqueue(obj, task, *args))


def raise_if_unqueued(obj, what: str) -> None:
    """After the service's transaction: tell the caller the work waits for the queue. Inside an
    outer transaction nothing was sent yet, and the sweeper covers a failure then."""
    if getattr(obj, "queue_failed", False):
        raise QueueUnavailable(obj, what)


class QueueUnavailableMiddleware:
    """A request whose work could not be queued answers 503 with the reason: JSON under /api/
    (with the job's id and address), else a page linking to the job."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, QueueUnavailable):
            return None
        obj = exception.obj
        url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": exception.message, "code": "queue_unavailable", "id": obj.pk,
                                     "status": getattr(obj, "status", ""), "url": request.build_absolute_uri(url)},
                                    status=503)
        else:
            response = TemplateResponse(request, "errors/queue_unavailable.html",
                                        {"message": exception.message, "url": url}, status=503).render()
        response["Retry-After"] = "60"
        return response


# --- the sweeper ---------------------------------------------------------------------------------

def job_sweep(name: str):
    """Register a function that queues an app's orphaned jobs again and returns its counts."""
    def register(func: Sweep) -> Sweep:
        _SWEEPS[name] = func
        return func

    return register


def registered_sweeps() -> dict[str, Sweep]:
    return dict(_SWEEPS)


def sweep_jobs() -> dict[str, dict]:
    """Run every registered sweep (one failing does not stop the others), then record the tick."""
    results = {}
    for name, sweep in _SWEEPS.items():
        try:
            results[name] = sweep()
        except Exception as exc:
            logger.exception("Job sweep %s failed", name)
            results[name] = {"error": exc.__class__.__name__}
        if any(results[name].values()):
            logger.info("job sweep %s: %s", name, results[name])
    beat_tick_record()
    return results


def beat_tick_record() -> None:
    try:
        cache.set(BEAT_TICK_KEY, timezone.now().timestamp(), timeout=None)
    except Exception:
        logger.warning("Could not record the beat tick in the cache", exc_info=True)


def beat_tick() -> dt.datetime | None:
    """When the sweeper last ran (raises if the cache cannot be read)."""
    value = cache.get(BEAT_TICK_KEY)
    return dt.datetime.fromtimestamp(value, tz=dt.UTC) if value is not None else None
