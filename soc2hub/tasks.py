import datetime as dt

from celery import shared_task

from soc2hub import jobs


@shared_task(name="soc2hub.tasks.run_daily_jobs")
def run_daily_jobs(as_of: str | None = None) -> dict:
    """Run every registered daily job (scheduled by beat; safe to run again)."""
    day = dt.date.fromisoformat(as_of) if as_of else None
    return jobs.run_daily_jobs(day)


@shared_task(name="soc2hub.tasks.ping")
def ping(value: str) -> str:
    """A round trip through the broker, used by the health check and the Redis test."""
    return f"pong:{value}"
