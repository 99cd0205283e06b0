"""The evidence app's daily jobs, in the order they run."""

from evidence import services
from evidence.verification import weekly_verification_run
from soc2hub.jobs import daily_job


@daily_job("evidence.open_requests")
def open_requests(as_of):
    return services.requests_open_due(as_of=as_of)


@daily_job("evidence.reminders")
def reminders(as_of):
    return services.reminders_send(as_of=as_of)


@daily_job("evidence.team_digests")
def team_digests(as_of):
    return services.digests_send(as_of=as_of)


@daily_job("evidence.verify")
def verify_stored_files(as_of):
    """Weekly, on EVIDENCE_VERIFY_WEEKDAY: every stored file against its recorded SHA-256."""
    return weekly_verification_run(as_of=as_of)
