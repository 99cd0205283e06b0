"""The evidence app's daily jobs, in the order they run."""

from evidence import services
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
