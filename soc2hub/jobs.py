"""The daily jobs: one registry that the beat schedule, ``run_daily_jobs`` and tests all run.

Apps register their jobs with ``@daily_job("name")``; each job takes the day it runs for
(``as_of``, a date in ``settings.TIME_ZONE``) and returns a small dict of figures. Every job
must be idempotent: running it twice, concurrently, or for a past day changes nothing more.
"""

import datetime as dt
import logging
import time
from collections.abc import Callable

from django.utils import timezone

logger = logging.getLogger(__name__)

DailyJob = Callable[[dt.date], dict]
_REGISTRY: dict[str, DailyJob] = {}


def daily_job(name: str):
    def register(func: DailyJob) -> DailyJob:
        _REGISTRY[name] = func
        return func

    return register


def registered_jobs() -> dict[str, DailyJob]:
    return dict(_REGISTRY)


def run_daily_jobs(as_of: dt.date | None = None, only: list[str] | None = None) -> dict[str, dict]:
    as_of = as_of or timezone.localdate()
    results = {}
    for name, job in _REGISTRY.items():
        if only and name not in only:
            continue
        started = time.monotonic()
        result = job(as_of) or {}
        result["seconds"] = round(time.monotonic() - started, 3)
        logger.info("daily job %s for %s: %s", name, as_of, result)
        results[name] = result
    return results
