import datetime as dt

from celery import shared_task

from soc2hub import jobs, notifications


@shared_task(name="soc2hub.tasks.run_daily_jobs")
def run_daily_jobs(as_of: str | None = None) -> dict:
    """Run every registered daily job (scheduled by beat; safe to run again)."""
    day = dt.date.fromisoformat(as_of) if as_of else None
    return jobs.run_daily_jobs(day)


@shared_task(name="soc2hub.tasks.ping")
def ping(value: str) -> str:
    """A round trip through the broker, used by the health check and the Redis test."""
    return f"pong:{value}"


_MAIL_RETRY = {
    "autoretry_for": notifications.TRANSIENT_MAIL_ERRORS,
    "retry_backoff": notifications.EMAIL_RETRY_BACKOFF,
    "retry_backoff_max": notifications.EMAIL_RETRY_BACKOFF_MAX,
    "max_retries": notifications.EMAIL_MAX_ATTEMPTS - 1,
}


@shared_task(bind=True, name="soc2hub.tasks.notification_email_send", **_MAIL_RETRY)
def notification_email_send(self, notification_id: int) -> str:
    """E-mail one notification (queued after commit by ``notify``; safe to run twice)."""
    try:
        return notifications.notification_email_send(notification_id=notification_id)
    except notifications.TRANSIENT_MAIL_ERRORS:
        if self.request.is_eager:
            # Run in the caller's process, a retry would run at once and hold the caller up:
            # the row stays queued and the sweeper's next run is the retry.
            return "retry later"
        raise


@shared_task(name="soc2hub.tasks.notification_emails_sweep")
def notification_emails_sweep() -> int:
    """Queue again the e-mails whose task was lost (broker down, worker killed); every minute."""
    return notifications.notification_emails_queue(notification_ids=notifications.notification_emails_due())


@shared_task(bind=True, name="soc2hub.tasks.email_send", **_MAIL_RETRY)
def email_send(self, payload: dict) -> None:
    """Send a rendered message that is no notification (allauth's account mails)."""
    try:
        notifications.email_payload_send(payload=payload)
    except notifications.TRANSIENT_MAIL_ERRORS:
        if self.request.is_eager:
            notifications.logger.warning("could not send e-mail %r to %s", payload["subject"], payload["to"],
                                         exc_info=True)
            return
        if self.request.retries >= self.max_retries:
            notifications.logger.error("gave up sending e-mail %r to %s", payload["subject"], payload["to"],
                                       exc_info=True)
        raise


@shared_task(name="soc2hub.tasks.sweep_jobs", ignore_result=True)
def sweep_jobs() -> dict:
    """Every minute (beat): queue again the jobs the broker never took, lost or whose worker died,
    and record the beat's tick for /readyz (soc2hub.jobqueue)."""
    from soc2hub import jobqueue

    return jobqueue.sweep_jobs()
