"""The non-human identity app's daily jobs: alerts first, then campaign reminders, then
imports left unapplied."""

from nhi.alerts import nhi_alerts_send
from nhi.campaigns import campaign_reminders_send
from nhi.imports import imports_expire
from soc2hub.jobs import daily_job


@daily_job("nhi.alerts")
def alerts(as_of):
    return nhi_alerts_send(as_of=as_of)


@daily_job("nhi.campaign_reminders")
def campaign_reminders(as_of):
    return campaign_reminders_send(as_of=as_of)


@daily_job("nhi.imports_expire")
def expire_imports(as_of):
    return imports_expire(as_of=as_of)
