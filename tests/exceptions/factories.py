"""Building blocks for exception tests: a request's fields, the workflow driven move by move
through the services, a snapshot of everything a refused action must leave alone, and a clock.

Plain functions rather than factory classes: an exception only reaches a status through the
services (submitted, reviewed, signed), so the tests get there the way people would.
"""

import datetime as dt
from contextlib import contextmanager
from unittest import mock

from django.utils import timezone

from exceptions import services
from exceptions.models import ExceptionRecord, ExceptionStatus, SignerRole
from exceptions.signers import required_signer_roles
from soc2hub.models import ActivityLog, Notification
from tests.factories import PASSWORD, second_factor

IP = "203.0.113.7"


def fields_for(team, **overrides) -> dict:
    """A complete, valid request for ``team``: an access exception expiring in 60 days."""
    fields = {
        "type": "access",
        "title": "Contractor keeps production access",
        "description": "A migration contractor keeps read-write access past the 30-day limit.",
        "justification": "The cut-over is next month.",
        "likelihood": 3,
        "impact": 4,
        "compensating_controls": "Bastion only; sessions recorded.",
        "requesting_team": team,
        "business_owner": team,
        "expires_on": timezone.localdate() + dt.timedelta(days=60),
    }
    fields.update(overrides)
    return fields


def make_exception(actor, team, *, controls=(), criteria=(), **overrides) -> ExceptionRecord:
    """A draft, created by ``actor`` through the service."""
    return services.exception_create(actor=actor, controls=controls, criteria=criteria,
                                     **fields_for(team, **overrides))


def fresh(exception) -> ExceptionRecord:
    return ExceptionRecord.objects.get(pk=exception.pk)


def sign(exception, signer, decision="approve", **overrides):
    """``signer`` signs what is stored now, the way the signing page would submit it."""
    kwargs = {
        "exception": exception, "signer": signer, "decision": decision, "typed_name": signer.get_full_name(),
        "password": PASSWORD, "content_sha256": fresh(exception).content_sha256(), "ip_address": IP,
    }
    kwargs.update(overrides)
    if "otp_code" not in kwargs:
        kwargs["otp_code"] = second_factor(signer)
    return services.exception_sign(**kwargs)


def signer_for(role, people):
    return people["finance"] if role == SignerRole.FINANCE else people["leadership"]


# Where each status is reached from, and how.
def advance(exception, to: str, people) -> ExceptionRecord:
    """Drive ``exception`` (a draft) through the services until it is ``to``."""
    path = {
        ExceptionStatus.DRAFT: [],
        ExceptionStatus.SUBMITTED: ["submit"],
        ExceptionStatus.UNDER_REVIEW: ["submit", "review"],
        ExceptionStatus.APPROVED: ["submit", "review", "approve"],
        ExceptionStatus.REJECTED: ["submit", "review", "reject"],
        ExceptionStatus.EXPIRED: ["submit", "review", "approve", "expire"],
        ExceptionStatus.REVOKED: ["submit", "review", "approve", "revoke"],
        ExceptionStatus.CLOSED: ["submit", "review", "approve", "close"],
    }[to]
    for step in path:
        if step == "submit":
            services.exception_submit(exception=exception, actor=people["owner"])
        elif step == "review":
            services.exception_review(exception=exception, reviewer=people["security"], recommendation="approve",
                                      note="Acceptable with session recording.")
        elif step == "approve":
            for role in required_signer_roles(exception):
                sign(exception, signer_for(role, people))
        elif step == "reject":
            sign(exception, people["leadership"], "reject")
        elif step == "expire":
            services.exceptions_expire(as_of=fresh(exception).expires_on)
        elif step == "revoke":
            services.exception_revoke(exception=exception, actor=people["security"], reason="No longer needed.")
        elif step == "close":
            services.exception_close(exception=exception, actor=people["owner"], reason="Access removed.")
    exception = fresh(exception)
    assert exception.status == to
    return exception


def history(exception):
    return list(ActivityLog.objects.for_object(exception).order_by("pk"))


def moves(exception) -> list[ActivityLog]:
    """Log entries that record a status move (they carry the status before and after)."""
    return [e for e in history(exception) if (e.before or {}).get("status")]


def state(exception) -> dict:
    """Everything a refused action must leave exactly as it was."""
    row = fresh(exception)
    return {
        "row": ExceptionRecord.objects.filter(pk=exception.pk).values(
            "status", "version", "title", "description", "justification", "likelihood", "impact",
            "expires_on", "business_owner", "recommendation", "recommendation_note", "recommended_by",
            "closing_reason", "updated_at").get(),
        "controls": sorted(row.controls.values_list("ref", flat=True)),
        "hash": row.content_sha256(),
        "signatures": list(row.signatures.order_by("pk").values_list("pk", "voided_at")),
        "versions": list(row.versions.order_by("version").values_list("version", "content_sha256")),
        "log": [e.pk for e in history(exception)],
        "all_log": ActivityLog.objects.count(),
        "notifications": Notification.objects.count(),
    }


@contextmanager
def clock(instant: dt.datetime):
    """Stop the clock at ``instant`` (UTC): ``timezone.now()`` and so ``localdate()`` answer from it."""
    with mock.patch("django.utils.timezone.now", return_value=instant):
        yield
