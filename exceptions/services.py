"""The exception workflow: one service per move, each atomic, permission-checked and logged.

draft → submitted → under review (Security recommends) → approved | rejected
approved → expired (daily job) | revoked | closed (remediated)

Changing signed content voids the signatures, bumps the version and sends the exception
back to submitted; every version's content and hash is kept.
"""

import datetime as dt
import hmac
import re
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from controls.models import OWNER_ROLES, Control
from exceptions.models import (
    ACTIVE_STATUSES,
    EDITABLE_STATUSES,
    ExceptionRecord,
    ExceptionReminder,
    ExceptionSignature,
    ExceptionStatus,
    ExceptionVersion,
    Recommendation,
    SignatureDecision,
    SignatureDigest,
    SignerRole,
)
from exceptions.signers import required_signer_roles, signer_roles_of
from nhi.models import NonHumanIdentity
from soc2hub import permissions
from soc2hub.auth import identity_confirm
from soc2hub.models import ActivityLog, Membership, Role, TeamFunction, User
from soc2hub.notifications import members_of, notify, security_people
from soc2hub.services import activity_record

CONTENT_FIELDS = ("type", "title", "description", "justification", "likelihood", "impact",
                  "compensating_controls", "requesting_team", "business_owner", "expires_on")

MOVES = {
    ExceptionStatus.DRAFT: {ExceptionStatus.SUBMITTED},
    ExceptionStatus.SUBMITTED: {ExceptionStatus.UNDER_REVIEW, ExceptionStatus.REVOKED, ExceptionStatus.EXPIRED},
    ExceptionStatus.UNDER_REVIEW: {ExceptionStatus.APPROVED, ExceptionStatus.REJECTED, ExceptionStatus.SUBMITTED,
                                   ExceptionStatus.REVOKED, ExceptionStatus.EXPIRED},
    ExceptionStatus.APPROVED: {ExceptionStatus.EXPIRED, ExceptionStatus.REVOKED, ExceptionStatus.CLOSED,
                               ExceptionStatus.SUBMITTED},
    ExceptionStatus.REJECTED: set(),
    ExceptionStatus.EXPIRED: set(),
    ExceptionStatus.REVOKED: set(),
    ExceptionStatus.CLOSED: set(),
}


def active_signatures(exception: ExceptionRecord):
    return exception.signatures.filter(version=exception.version, voided_at__isnull=True)


def open_signer_roles(exception: ExceptionRecord, user) -> list[str]:
    """Required roles this user could sign now: held by them and not yet signed for this version.
    One person signs once per version, even holding two roles: two roles need two people."""
    signatures = list(active_signatures(exception).values_list("role", "signer_id"))
    if any(signer_id == user.pk for _role, signer_id in signatures):
        return []
    signed = {role for role, _signer in signatures}
    return [r for r in required_signer_roles(exception) if r not in signed and r in signer_roles_of(user)]


def _move(exception: ExceptionRecord, to: str, *, actor, verb: str, details: dict | None = None,
          message: str = "") -> None:
    if to not in MOVES[exception.status]:
        raise ValidationError(
            f"{exception.reference} is {exception.get_status_display().lower()}; it cannot become "
            f"{ExceptionStatus(to).label.lower()}."
        )
    before = exception.status
    exception.status = to
    exception.save(update_fields=["status", "updated_at"])
    activity_record(actor=actor, verb=verb, obj=exception, before={"status": before},
                    after={"status": to, **(details or {})}, message=message)


def _validate(*, actor, fields: dict, controls, today: dt.date, nhis=()) -> None:
    errors = {}
    expires_on = fields.get("expires_on")
    if expires_on is not None:
        if expires_on <= today:
            errors["expires_on"] = "The expiry date must be in the future."
        elif (expires_on - today).days > settings.EXCEPTION_MAX_DAYS:
            errors["expires_on"] = (f"An exception may run at most {settings.EXCEPTION_MAX_DAYS} days "
                                    f"(until {today + dt.timedelta(days=settings.EXCEPTION_MAX_DAYS):%d %b %Y}).")
    team = fields.get("requesting_team")
    if team is not None and not actor.is_security and team.pk not in actor.team_ids():
        errors["requesting_team"] = "You can request exceptions only for a team you belong to."
    # What the actor may not see answers exactly like what does not exist: naming it, or
    # saying whose it is, would tell them about it.
    if controls and len(permissions.restrict(Control.objects.filter(pk__in=[c.pk for c in controls]),
                                             actor)) < len({c.pk for c in controls}):
        errors["controls"] = "No such control."
        controls = []
    if nhis and len(permissions.restrict(NonHumanIdentity.objects.filter(pk__in=[n.pk for n in nhis]),
                                         actor)) < len({n.pk for n in nhis}):
        errors["nhis"] = "No such identity."
        nhis = []
    if team is not None and controls and not actor.is_security:
        foreign = [c.ref for c in controls
                   if team.pk not in {getattr(c, f"{role}_id") for role in OWNER_ROLES}]
        if foreign:
            errors["controls"] = (f"{', '.join(sorted(foreign))} {'is' if len(foreign) == 1 else 'are'} not owned by "
                                  f"{team.name}; ask Security to raise an exception for another team's controls.")
    if team is not None and nhis and not actor.is_security:
        foreign = [n.name for n in nhis if n.owner_team_id != team.pk]
        if foreign:
            errors["nhis"] = (f"{', '.join(sorted(foreign))} {'is' if len(foreign) == 1 else 'are'} not owned by "
                              f"{team.name}.")
    if errors:
        raise ValidationError(errors)


def _snapshot_version(exception: ExceptionRecord, actor) -> ExceptionVersion:
    content = exception.signed_content()
    return ExceptionVersion.objects.create(exception=exception, version=exception.version, content=content,
                                           content_sha256=exception.content_sha256(), created_by=actor)


@transaction.atomic
def exception_create(*, actor, controls=(), criteria=(), nhis=(), **fields) -> ExceptionRecord:
    permissions.require(actor, permissions.ADD, ExceptionRecord)
    controls, nhis = list(controls), list(nhis)
    _validate(actor=actor, fields=fields, controls=controls, today=timezone.localdate(), nhis=nhis)
    exception = ExceptionRecord(created_by=actor, **fields)
    exception.full_clean()
    exception.save()
    exception.controls.set(controls)
    exception.criteria.set(criteria)
    exception.nhis.set(nhis)
    activity_record(actor=actor, verb="exception.created", obj=exception, after=exception.signed_content())
    return exception


@transaction.atomic
def exception_update(*, exception: ExceptionRecord, actor, controls=None, criteria=None, nhis=None,
                     **fields) -> ExceptionRecord:
    """Change an exception's content. Once submitted, any change voids every signature and the
    recommendation, records a new version and sends the exception back to submitted."""
    exception = ExceptionRecord.objects.select_for_update().get(pk=exception.pk)
    permissions.require(actor, permissions.CHANGE, exception)
    if exception.status not in EDITABLE_STATUSES:
        raise ValidationError(f"{exception.reference} is {exception.get_status_display().lower()} and can no "
                              "longer change.")
    unknown = set(fields) - set(CONTENT_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in unknown})
    controls = list(controls) if controls is not None else None
    nhis = list(nhis) if nhis is not None else None
    _validate(actor=actor, fields={"requesting_team": exception.requesting_team, **fields},
              controls=controls if controls is not None else list(exception.controls.all()),
              today=timezone.localdate(), nhis=nhis or [])
    before = exception.signed_content()
    for name, value in fields.items():
        setattr(exception, name, value)
    exception.full_clean()
    exception.save()
    if controls is not None:
        exception.controls.set(controls)
    if criteria is not None:
        exception.criteria.set(criteria)
    if nhis is not None:
        exception.nhis.set(nhis)
    after = exception.signed_content()
    changed = {k for k in after if after[k] != before[k]}
    if not changed:
        return exception
    if exception.status == ExceptionStatus.DRAFT:
        activity_record(actor=actor, verb="exception.changed", obj=exception,
                        before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
        return exception
    voided = active_signatures(exception).update(
        voided_at=timezone.now(), void_reason=f"Content changed after version {exception.version}"
    )
    exception.version += 1
    exception.recommendation, exception.recommendation_note = "", ""
    exception.recommended_by, exception.recommended_at = None, None
    exception.save(update_fields=["version", "recommendation", "recommendation_note", "recommended_by",
                                  "recommended_at"])
    _snapshot_version(exception, actor)
    previous_status = exception.status
    if exception.status != ExceptionStatus.SUBMITTED:
        _move(exception, ExceptionStatus.SUBMITTED, actor=actor, verb="exception.resubmitted",
              details={"version": exception.version})
    activity_record(
        actor=actor, verb="exception.changed", obj=exception,
        before={k: before[k] for k in changed}, after={k: exception.signed_content()[k] for k in changed},
        message=f"Version {exception.version}. {voided} signature{'s' if voided != 1 else ''} voided; "
                f"was {previous_status}.",
    )
    if voided:
        notify(users=security_people(), kind="exception.signatures_voided",
               subject=f"{exception.reference} changed after signing: signatures voided",
               template="exception_changed", context={"exception": exception, "voided": voided},
               url=exception.get_absolute_url())
    return exception


@transaction.atomic
def exception_submit(*, exception: ExceptionRecord, actor) -> ExceptionRecord:
    exception = ExceptionRecord.objects.select_for_update().get(pk=exception.pk)
    permissions.require(actor, permissions.SUBMIT, exception)
    if exception.status != ExceptionStatus.DRAFT:
        raise ValidationError(f"{exception.reference} is {exception.get_status_display().lower()}; "
                              "only a draft can be submitted.")
    _validate(actor=actor, fields={"expires_on": exception.expires_on}, controls=[], today=timezone.localdate())
    _move(exception, ExceptionStatus.SUBMITTED, actor=actor, verb="exception.submitted",
          details={"version": exception.version, "content_sha256": exception.content_sha256()})
    _snapshot_version(exception, actor)
    notify(users=security_people(), kind="exception.submitted",
           subject=f"Exception to review: {exception}", template="exception_submitted",
           context={"exception": exception}, url=exception.get_absolute_url())
    return exception


@transaction.atomic
def exception_review(*, exception: ExceptionRecord, reviewer, recommendation: str, note: str) -> ExceptionRecord:
    """Security records its recommendation; the exception then waits for its signers."""
    exception = ExceptionRecord.objects.select_for_update().get(pk=exception.pk)
    permissions.require(reviewer, permissions.REVIEW, exception)
    if recommendation not in Recommendation.values:
        raise ValidationError({"recommendation": "Recommend approve or reject."})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Explain the recommendation for the signers."})
    exception.recommendation, exception.recommendation_note = recommendation, note
    exception.recommended_by, exception.recommended_at = reviewer, timezone.now()
    exception.save(update_fields=["recommendation", "recommendation_note", "recommended_by", "recommended_at"])
    _move(exception, ExceptionStatus.UNDER_REVIEW, actor=reviewer, verb="exception.reviewed",
          details={"recommendation": recommendation}, message=note)
    notify(users=signers_for(exception), kind="exception.awaiting_signature",
           subject=f"Your signature is needed: {exception}", template="exception_awaiting_signature",
           context={"exception": exception}, url=exception.get_absolute_url())
    _tell_security_no_signer(exception, actor=reviewer)
    return exception


# --- who can sign ------------------------------------------------------------------------------

def _holders_of(role: str):
    """Everyone holding a signer role (see ``signer_roles_of``), independent or not."""
    people = User.objects.filter(is_active=True)
    if role == SignerRole.LEADERSHIP:
        return people.filter(groups__name=Role.LEADERSHIP).distinct()
    if role == SignerRole.FINANCE:
        return people.filter(memberships__team__function=TeamFunction.FINANCE).distinct()
    return people.none()


class SignerPool:
    """The holders of each signer role with their teams, loaded once for a page of exceptions,
    so that telling which roles have no independent signer costs the same for 5 rows or 500."""

    def __init__(self):
        self.holders = {role: list(_holders_of(role).order_by("pk")) for role in SignerRole.values}
        people = {u.pk: u for holders in self.holders.values() for u in holders}
        teams = defaultdict(set)
        memberships = Membership.objects.filter(user_id__in=list(people)).values_list("user_id", "team_id")
        for user_id, team_id in memberships:
            teams[user_id].add(team_id)
        for person in people.values():
            person._team_ids = teams[person.pk]  # what User.team_ids() caches


def independent_signers(exception: ExceptionRecord, pool: SignerPool | None = None) -> dict[str, list[User]]:
    """For each required role not yet signed on this version: who could still sign it — holds
    the role, is independent of the exception (``permissions.conflict_of_interest``) and has not
    signed this version in another role. Reads the prefetched ``signatures`` and ``versions``
    when there are (the register), else queries."""
    pool = pool or SignerPool()
    signatures = exception.current_signatures()
    signed_roles = {s.role for s in signatures}
    signed_people = {s.signer_id for s in signatures}
    stake = permissions.stake_in(exception)
    return {role: [u for u in pool.holders[role] if u.pk not in signed_people and stake.of(u) is None]
            for role in required_signer_roles(exception) if role not in signed_roles}


def roles_without_signer(exception: ExceptionRecord, pool: SignerPool | None = None) -> list[str]:
    """The required roles nobody independent can sign: the exception cannot be approved until
    someone independent holds them. Only asked while it awaits signatures."""
    if not exception.awaits_signatures:
        return []
    return [role for role, people in independent_signers(exception, pool).items() if not people]


def signers_for(exception: ExceptionRecord) -> list[User]:
    """Everyone independent who could sign one of the exception's still-open roles: the only
    people asked, reminded and sent the digest."""
    people = [u for holders in independent_signers(exception).values() for u in holders]
    return list({u.pk: u for u in people}.values())


def _tell_security_no_signer(exception: ExceptionRecord, *, actor=None, pool: SignerPool | None = None) -> bool:
    """Tell Security, once per version, that a required role has no independent signer: the
    exception would otherwise wait for ever, and nobody conflicted may sign it instead."""
    roles = roles_without_signer(exception, pool)
    if not roles or ActivityLog.objects.for_object(exception).filter(
            verb="exception.no_independent_signer", after__version=exception.version).exists():
        return False
    labels = [SignerRole(role).label for role in roles]
    activity_record(actor=actor, verb="exception.no_independent_signer", obj=exception,
                    after={"version": exception.version, "roles": roles},
                    message=f"No independent {' or '.join(labels)} signer.")
    notify(users=security_people(), kind="exception.no_independent_signer",
           subject=f"{exception.reference} has no independent {' or '.join(labels)} signer",
           template="exception_no_independent_signer", context={"exception": exception, "roles": labels},
           url=exception.get_absolute_url())
    return True


def _names_match(typed: str, user) -> bool:
    def norm(value):
        return re.sub(r"\s+", " ", value or "").strip().casefold()

    expected = norm(user.get_full_name()) or norm(user.username)
    return bool(expected) and hmac.compare_digest(norm(typed), expected)


def exception_sign(*, exception: ExceptionRecord, signer, decision: str, typed_name: str, password: str,
                   content_sha256: str, otp_code: str = "", request=None, ip_address: str | None = None,
                   comment: str = "", role: str | None = None) -> ExceptionSignature:
    """A required signer approves or rejects the exact version they read. The password, a
    current second-factor code (step-up) and the typed full name confirm it is them; the
    content hash confirms what they read.

    The identity check runs before the signing transaction, so that a wrong password or code
    counts towards the sign-in lockout (``soc2hub.auth``) even though nothing is signed."""
    permissions.require(signer, permissions.SIGN, exception)
    identity_confirm(user=signer, password=password, otp_code=otp_code, request=request)
    return _signature_record(exception=exception, signer=signer, decision=decision, typed_name=typed_name,
                             content_sha256=content_sha256, ip_address=ip_address, comment=comment, role=role)


@transaction.atomic
def _signature_record(*, exception: ExceptionRecord, signer, decision: str, typed_name: str, content_sha256: str,
                      ip_address: str | None, comment: str, role: str | None) -> ExceptionSignature:
    exception = ExceptionRecord.objects.select_for_update().select_related(
        "requesting_team", "business_owner").get(pk=exception.pk)
    permissions.require(signer, permissions.SIGN, exception)
    if exception.status != ExceptionStatus.UNDER_REVIEW:
        raise ValidationError(f"{exception.reference} is {exception.get_status_display().lower()}; it can be "
                              "signed only while it awaits signatures.")
    if decision not in SignatureDecision.values:
        raise ValidationError({"decision": "Choose approve or reject."})
    if not _names_match(typed_name, signer):
        raise ValidationError({"typed_name": f"Type your full name exactly as “{signer.get_full_name()}”."})
    if not content_sha256 or not hmac.compare_digest(content_sha256, exception.content_sha256()):
        raise ValidationError("This exception changed since you opened it. Read the current version and sign again.")
    roles = open_signer_roles(exception, signer)
    if role:
        roles = [r for r in roles if r == role]
    if not roles:
        raise ValidationError("You have already signed this version, or no signature you can give is still needed.")
    try:
        with transaction.atomic():
            signature = ExceptionSignature.objects.create(
                exception=exception, version=exception.version, role=roles[0], signer=signer,
                typed_name=typed_name.strip(), decision=decision, comment=(comment or "").strip(),
                ip_address=ip_address or None, content_sha256=exception.content_sha256(),
                security_recommendation=exception.recommendation,
            )
    except IntegrityError:
        raise ValidationError("This role has already signed this version.") from None
    override = _override_sentence(signature)
    activity_record(actor=signer, verb="exception.signed", obj=exception,
                    after={"role": signature.role, "decision": decision, "version": exception.version,
                           "content_sha256": signature.content_sha256, "ip": signature.ip_address,
                           "security_recommendation": signature.security_recommendation},
                    message=" ".join(part for part in (override, signature.comment) if part))
    if decision == SignatureDecision.REJECT:
        _move(exception, ExceptionStatus.REJECTED, actor=signer, verb="exception.rejected",
              details={"role": signature.role}, message=signature.comment)
        _tell_requesters(exception, "rejected")
    else:
        approved = set(active_signatures(exception).filter(decision=SignatureDecision.APPROVE)
                       .values_list("role", flat=True))
        if set(required_signer_roles(exception)) <= approved:
            against = exception.recommendation == Recommendation.REJECT
            _move(exception, ExceptionStatus.APPROVED, actor=signer, verb="exception.approved",
                  details={"version": exception.version, "content_sha256": exception.content_sha256(),
                           "against_security_recommendation": against},
                  message="Approved against Security's recommendation to reject." if against else "")
            Control.objects.filter(exceptions=exception).update(exception_lapsed_on=None)
            _tell_requesters(exception, "approved")
    return signature


def _override_sentence(signature: ExceptionSignature) -> str:
    """The log's words for an approval that overrode Security's recommendation to reject."""
    if not signature.overrides_security:
        return ""
    return f"{signature.get_role_display()} approved against Security's recommendation to reject."


def _tell_requesters(exception: ExceptionRecord, outcome: str) -> None:
    notify(users=[*members_of(exception.requesting_team), *security_people()], kind=f"exception.{outcome}",
           subject=f"{exception.reference} {outcome}: {exception.title}", template="exception_outcome",
           context={"exception": exception, "outcome": outcome}, url=exception.get_absolute_url())


def _end(exception: ExceptionRecord, to: str, *, actor, action: str, reason: str) -> ExceptionRecord:
    exception = ExceptionRecord.objects.select_for_update().get(pk=exception.pk)
    permissions.require(actor, action, exception)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason; it goes on the record."})
    exception.closing_reason = reason
    exception.save(update_fields=["closing_reason"])
    _move(exception, to, actor=actor, verb=f"exception.{to}", message=reason)
    _tell_requesters(exception, to)
    return exception


@transaction.atomic
def exception_revoke(*, exception: ExceptionRecord, actor, reason: str) -> ExceptionRecord:
    return _end(exception, ExceptionStatus.REVOKED, actor=actor, action=permissions.REVOKE, reason=reason)


@transaction.atomic
def exception_close(*, exception: ExceptionRecord, actor, reason: str) -> ExceptionRecord:
    """The deviation was remediated: the exception is no longer needed."""
    return _end(exception, ExceptionStatus.CLOSED, actor=actor, action=permissions.CLOSE, reason=reason)


# --- daily jobs ---------------------------------------------------------------------------

def exceptions_expire(*, as_of: dt.date) -> dict:
    """Expire every exception whose date has come. An approved one that covered controls puts
    those controls back in view instead of lapsing silently."""
    expired = flagged = 0
    for pk in ExceptionRecord.objects.filter(status__in=ACTIVE_STATUSES, expires_on__lte=as_of).values_list(
            "pk", flat=True):
        with transaction.atomic():
            exception = (ExceptionRecord.objects.select_for_update()
                         .filter(pk=pk, status__in=ACTIVE_STATUSES, expires_on__lte=as_of).first())
            if exception is None:
                continue  # another run got there first
            was_approved = exception.status == ExceptionStatus.APPROVED
            _move(exception, ExceptionStatus.EXPIRED, actor=None, verb="exception.expired",
                  details={"expires_on": exception.expires_on.isoformat()})
            if was_approved:
                controls = list(exception.controls.all())
                for control in controls:
                    activity_record(actor=None, verb="control.exception_lapsed", obj=control,
                                    after={"exception": exception.reference})
                flagged += Control.objects.filter(pk__in=[c.pk for c in controls]).update(exception_lapsed_on=as_of)
            notify(users=[*members_of(exception.requesting_team), *security_people()], kind="exception.expired",
                   subject=f"{exception.reference} expired today: {exception.title}", template="exception_outcome",
                   context={"exception": exception, "outcome": "expired"}, url=exception.get_absolute_url())
            expired += 1
    return {"expired": expired, "controls_flagged": flagged}


def expiry_reminders_send(*, as_of: dt.date) -> dict:
    horizon = as_of + dt.timedelta(days=max(settings.EXCEPTION_REMINDER_DAYS, default=0))
    sent = 0
    exceptions = (ExceptionRecord.objects.filter(status=ExceptionStatus.APPROVED, expires_on__gt=as_of,
                                                 expires_on__lte=horizon)
                  .select_related("requesting_team"))
    already = set(ExceptionReminder.objects.filter(exception__in=exceptions)
                  .values_list("exception_id", "expires_on", "days_before"))
    for exception in exceptions:
        days_left = (exception.expires_on - as_of).days
        due = [d for d in settings.EXCEPTION_REMINDER_DAYS if d >= days_left]
        if not due:
            continue
        key = min(due)
        if (exception.pk, exception.expires_on, key) in already:
            continue
        try:
            with transaction.atomic():
                ExceptionReminder.objects.create(exception=exception, expires_on=exception.expires_on,
                                                 days_before=key)
                notify(users=[*members_of(exception.requesting_team), *security_people()],
                       kind="exception.expiring",
                       subject=f"{exception.reference} expires in {days_left} day{'s' if days_left != 1 else ''}: "
                               f"{exception.title}",
                       template="exception_expiring", context={"exception": exception, "days_left": days_left},
                       url=exception.get_absolute_url())
                activity_record(actor=None, verb="exception.expiry_reminder", obj=exception,
                                after={"days_before": key, "expires_on": exception.expires_on.isoformat()})
            sent += 1
        except IntegrityError:
            continue
    return {"sent": sent}


def signature_digests_send(*, as_of: dt.date) -> dict:
    """Once a week, each signer hears which exceptions wait for their signature."""
    year, week, _ = as_of.isocalendar()
    week_key = f"{year}-W{week:02d}"
    waiting = defaultdict(list)
    for exception in ExceptionRecord.objects.filter(status=ExceptionStatus.UNDER_REVIEW).order_by("expires_on"):
        for person in signers_for(exception):
            waiting[person].append(exception)
    sent = 0
    for person, exceptions in waiting.items():
        try:
            with transaction.atomic():
                SignatureDigest.objects.create(user=person, week=week_key)
                notify(users=[person], kind="exception.signature_digest",
                       subject=f"{len(exceptions)} exception{'s' if len(exceptions) != 1 else ''} awaiting your "
                               f"signature ({week_key})",
                       template="exception_signature_digest", context={"exceptions": exceptions, "week": week_key},
                       url="/exceptions/?status=under_review")
            sent += 1
        except IntegrityError:
            continue
    return {"week": week_key, "sent": sent}


def no_signer_warnings_send(*, as_of: dt.date) -> dict:
    """Every exception awaiting signatures whose required role has lost its last independent
    signer since it was reviewed (someone left, or joined the requesting team): Security hears
    once per version, as at review."""
    told, pool = 0, SignerPool()
    for pk in ExceptionRecord.objects.filter(status=ExceptionStatus.UNDER_REVIEW).values_list("pk", flat=True):
        with transaction.atomic():
            exception = (ExceptionRecord.objects.select_for_update().select_related("requesting_team")
                         .filter(pk=pk, status=ExceptionStatus.UNDER_REVIEW).first())
            if exception is not None and _tell_security_no_signer(exception, pool=pool):
                told += 1
    return {"told": told}


def control_exception_lapse_clear(*, control: Control, actor) -> None:
    """Security has looked at a control whose exception expired: take the flag down."""
    permissions.require(actor, permissions.CHANGE, control)
    with transaction.atomic():
        if Control.objects.filter(pk=control.pk, exception_lapsed_on__isnull=False).update(exception_lapsed_on=None):
            activity_record(actor=actor, verb="control.exception_lapse_cleared", obj=control)
