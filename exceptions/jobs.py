"""The exceptions app's daily jobs: expire first, then remind, then the signers' digest, then
tell Security of any exception nobody independent can sign any more."""

from exceptions import services
from soc2hub.jobs import daily_job


@daily_job("exceptions.expire")
def expire(as_of):
    return services.exceptions_expire(as_of=as_of)


@daily_job("exceptions.expiry_reminders")
def expiry_reminders(as_of):
    return services.expiry_reminders_send(as_of=as_of)


@daily_job("exceptions.signature_digests")
def signature_digests(as_of):
    return services.signature_digests_send(as_of=as_of)


@daily_job("exceptions.no_signer_warnings")
def no_signer_warnings(as_of):
    return services.no_signer_warnings_send(as_of=as_of)
