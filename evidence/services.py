"""Writes for evidence: templates, opening periods, submissions, reviews, reminders, digests.

Every service is atomic, asks ``soc2hub.permissions`` and records the change in the
activity log. The scheduled ones (``requests_open_due``, ``reminders_send``,
``digests_send``) are safe to run twice or at the same time: database constraints decide
what exists, and each row is claimed in its own transaction.
"""

import datetime as dt
import logging
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from evidence.models import (
    AWAITING_TEAM,
    CalendarFeed,
    Cadence,
    Evidence,
    EvidenceFile,
    EvidenceReminder,
    EvidenceRequest,
    EvidenceStatus,
    EvidenceTemplate,
    ReminderKind,
    RequestStatus,
    TeamDigest,
)
from evidence.periods import Period, one_off_period, periods_from
from evidence.storage import discard_stored, inspect_upload, store_upload
from soc2hub import permissions
from soc2hub.models import Team, User
from soc2hub.notifications import members_of, notify, security_people
from soc2hub.services import activity_record

logger = logging.getLogger(__name__)

TEMPLATE_FIELDS = (
    "control", "title", "instructions", "acceptance_criteria", "cadence", "owner_team",
    "opens_days_after_period_end", "due_days_after_period_end", "reviewer_group", "starts_on",
    "one_off_period_end", "is_active",
)

AUDITOR_RETURN_DAYS = 7  # the least time a team gets when an auditor returns an answer

# The one place request statuses move; anything else is refused. (An auditor's request also
# moves from approved back to returned: ``request_return_to_team``.)
REQUEST_MOVES = {
    RequestStatus.OPEN: {RequestStatus.SUBMITTED},
    RequestStatus.RETURNED: {RequestStatus.SUBMITTED},
    RequestStatus.SUBMITTED: {RequestStatus.APPROVED, RequestStatus.RETURNED},
    RequestStatus.APPROVED: set(),
}


def _snapshot(obj, fields) -> dict:
    data = {}
    for name in fields:
        value = getattr(obj, name)
        data[name] = value.pk if hasattr(value, "pk") else (value.isoformat() if hasattr(value, "isoformat") else value)
    return data


# --- templates ---------------------------------------------------------------------------

@transaction.atomic
def template_create(*, actor, **fields) -> EvidenceTemplate:
    permissions.require(actor, permissions.ADD, EvidenceTemplate)
    if fields.get("owner_team") is None and fields.get("control") is not None:
        fields["owner_team"] = fields["control"].evidence_owner
    if fields.get("owner_team") is None:
        raise ValidationError({"owner_team": "Choose the team that provides this evidence "
                                             "(the control has no evidence owner to default to)."})
    template = EvidenceTemplate(created_by=actor, **fields)
    template.full_clean()
    template.save()
    activity_record(actor=actor, verb="evidence_template.created", obj=template,
                    after=_snapshot(template, TEMPLATE_FIELDS))
    return template


@transaction.atomic
def template_update(*, template: EvidenceTemplate, actor, **fields) -> EvidenceTemplate:
    template = EvidenceTemplate.objects.select_for_update().get(pk=template.pk)
    permissions.require(actor, permissions.CHANGE, template)
    unknown = set(fields) - set(TEMPLATE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    before = _snapshot(template, TEMPLATE_FIELDS)
    if fields.get("cadence", template.cadence) != template.cadence and "starts_on" not in fields:
        # A new rhythm starts now: do not backfill the past under the new cadence.
        fields["starts_on"] = timezone.localdate()
    for name, value in fields.items():
        setattr(template, name, value)
    template.full_clean()
    template.save()
    after = _snapshot(template, TEMPLATE_FIELDS)
    changed = {k for k in after if after[k] != before[k]}
    if changed:
        activity_record(actor=actor, verb="evidence_template.changed", obj=template,
                        before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    return template


# --- periods -------------------------------------------------------------------------------

def template_periods(template: EvidenceTemplate, *, until: dt.date,
                     since: dt.date | None = None) -> list[tuple[Period, dt.date, dt.date]]:
    """Every period of the template from its start (or from the period containing ``since``)
    whose request opens on or before ``until``, with the request's open and due dates."""
    opens = dt.timedelta(days=template.opens_days_after_period_end)
    due = dt.timedelta(days=template.due_days_after_period_end)
    if template.cadence == Cadence.ONE_OFF:
        period = one_off_period(template.one_off_period_end)
        return [(period, period.end + opens, period.end + due)] if period.end + opens <= until else []
    result = []
    for period in periods_from(template.cadence, max(template.starts_on, since or template.starts_on)):
        if period.end + opens > until:
            break
        if period.end >= template.starts_on:
            result.append((period, period.end + opens, period.end + due))
    return result


def template_year_ahead(template: EvidenceTemplate, *, today: dt.date, days: int = 366):
    """The periods whose requests open in the next year: what the team will be asked for."""
    horizon = today + dt.timedelta(days=days)
    # Start a year back: no period opening from today on can end before that.
    since = today - dt.timedelta(days=366 + max(template.opens_days_after_period_end, 0))
    return [p for p in template_periods(template, until=horizon, since=since) if p[1] >= today]


def _open_request(template: EvidenceTemplate, period: Period, opens_on: dt.date, due_on: dt.date):
    """Create one period's request, or return None if another run already did."""
    try:
        with transaction.atomic():
            request = EvidenceRequest.objects.create(
                template=template,
                control=template.control,
                owner_team=template.owner_team,
                title=template.title,
                period_start=period.start,
                period_end=period.end,
                period_label=period.label,
                opens_on=opens_on,
                due_on=due_on,
            )
            activity_record(actor=None, verb="evidence_request.opened", obj=request,
                            after={"period": period.label, "due_on": due_on.isoformat(),
                                   "team": template.owner_team.slug})
            # The mail goes after commit: a mail server that is down must not stop requests opening.
            notify(users=members_of(template.owner_team), kind="evidence.request_opened",
                   subject=f"Evidence requested: {request.title} ({period.label}), due {due_on:%d %b %Y}",
                   template="evidence_request_opened", context={"request": request},
                   url=request.get_absolute_url())
            return request
    except IntegrityError:
        return None  # the unique constraint says this period is already open


def requests_open_due(*, as_of: dt.date) -> dict:
    """Open every request whose period has come, catching up on any missed days."""
    templates = list(
        EvidenceTemplate.objects.filter(is_active=True, starts_on__lte=as_of + dt.timedelta(days=366))
        .select_related("control", "owner_team")
    )
    existing = set(
        EvidenceRequest.objects.filter(template__is_active=True).values_list("template_id", "period_start")
    )
    opened = skipped = 0
    for template in templates:
        for period, opens_on, due_on in template_periods(template, until=as_of):
            if (template.pk, period.start) in existing:
                continue
            if _open_request(template, period, opens_on, due_on):
                opened += 1
            else:
                skipped += 1
    return {"templates": len(templates), "opened": opened, "already_open": skipped}


# --- submissions ---------------------------------------------------------------------------

def _move_request(request: EvidenceRequest, to: str, *, actor, verb: str, details: dict, message: str = "") -> None:
    """Move a request's status (refusing illegal moves) and log the move with what caused it."""
    if to not in REQUEST_MOVES[request.status]:
        raise ValidationError(
            f"This request is {request.get_status_display().lower()}; it cannot become {RequestStatus(to).label.lower()}."
        )
    before = request.status
    request.status = to
    request.save(update_fields=["status", "updated_at"])
    activity_record(actor=actor, verb=verb, obj=request, before={"status": before},
                    after={"status": to, **details}, message=message)


def evidence_submit(*, request: EvidenceRequest, actor, files=(), note: str = "", link: str = "") -> Evidence:
    """Submit files and/or a link for a request. Each file is checked and hashed before anything
    is stored; if any part fails, nothing is kept (stored files are removed again)."""
    stored: list[EvidenceFile] = []
    try:
        with transaction.atomic():
            request = EvidenceRequest.objects.select_for_update(of=("self",)).select_related("template").get(pk=request.pk)
            permissions.require(actor, permissions.SUBMIT, request)
            if request.status not in AWAITING_TEAM:
                raise ValidationError(
                    f"This request is {request.get_status_display().lower()}; evidence is accepted while it is "
                    "open or returned."
                )
            note, link = (note or "").strip(), (link or "").strip()
            if not files and not link:
                raise ValidationError("Attach at least one file or give a link to the record in its system.")
            inspected = [inspect_upload(f) for f in files]
            evidence = Evidence.objects.create(request=request, note=note, link=link, submitted_by=actor)
            for upload, info in zip(files, inspected, strict=True):
                record = EvidenceFile(evidence=evidence, original_name=info.name, size=info.size,
                                      sha256=info.sha256, content_type=info.content_type, uploaded_by=actor)
                store_upload(record.file, info.name, upload)  # removes its own partial file when it fails
                stored.append(record)
                record.save()
            _move_request(
                request, RequestStatus.SUBMITTED, actor=actor, verb="evidence.submitted", message=note,
                details={"evidence": evidence.pk, "link": link,
                         "files": [{"name": i.name, "sha256": i.sha256, "size": i.size} for i in inspected]},
            )
            return evidence
    except BaseException:  # an interrupted request too: files of a rolled-back submission never stay
        for record in stored:
            discard_stored(record.file.storage, record.file.name)
        raise


def evidence_submit_generated(*, request: EvidenceRequest, actor, name: str, content: bytes, note: str) -> Evidence:
    """Submit a file that soc2hub itself produced from its records (e.g. an attestation
    campaign's results) to a request. Security may do this for any team's request: the file
    is the process's own output, not a screenshot. It is checked, hashed and reviewed like any
    upload, by someone other than ``actor``."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    permissions.require(actor, permissions.SUBMIT_GENERATED, request)
    upload = SimpleUploadedFile(name, content)
    stored: list[EvidenceFile] = []
    try:
        with transaction.atomic():
            request = EvidenceRequest.objects.select_for_update().get(pk=request.pk)
            if request.status not in AWAITING_TEAM:
                raise ValidationError(f"{request} is {request.get_status_display().lower()}; it accepts evidence "
                                      "only while open or returned.")
            info = inspect_upload(upload)
            evidence = Evidence.objects.create(request=request, note=note, submitted_by=actor)
            record = EvidenceFile(evidence=evidence, original_name=info.name, size=info.size, sha256=info.sha256,
                                  content_type=info.content_type, uploaded_by=actor)
            store_upload(record.file, info.name, upload)
            stored.append(record)
            record.save()
            _move_request(request, RequestStatus.SUBMITTED, actor=actor, verb="evidence.submitted", message=note,
                          details={"evidence": evidence.pk, "generated": True,
                                   "files": [{"name": info.name, "sha256": info.sha256, "size": info.size}]})
            return evidence
    except BaseException:  # an interrupted request too: files of a rolled-back submission never stay
        for record in stored:
            discard_stored(record.file.storage, record.file.name)
        raise


def _locked_evidence(evidence: Evidence) -> Evidence:
    return (Evidence.objects.select_for_update(of=("self",)).select_related("request__template", "request__owner_team")
            .get(pk=evidence.pk))


@transaction.atomic
def evidence_approve(*, evidence: Evidence, reviewer) -> Evidence:
    evidence = _locked_evidence(evidence)
    if evidence.status != EvidenceStatus.PENDING:
        raise ValidationError(f"This evidence is already {evidence.get_status_display().lower()}.")
    permissions.require(reviewer, permissions.REVIEW, evidence)
    evidence.status = EvidenceStatus.APPROVED
    evidence.reviewed_by, evidence.reviewed_at = reviewer, timezone.now()
    evidence.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    _move_request(evidence.request, RequestStatus.APPROVED, actor=reviewer, verb="evidence.approved",
                  details={"evidence": evidence.pk, "hashes": list(evidence.files.values_list("sha256", flat=True))})
    if evidence.request.is_audit_request:
        from audits.services import audit_request_evidence_approved

        audit_request_evidence_approved(evidence_request=evidence.request)
    notify(users=members_of(evidence.request.owner_team), kind="evidence.approved",
           subject=f"Approved: {evidence.request}", template="evidence_approved",
           context={"request": evidence.request, "evidence": evidence, "reviewer": reviewer},
           url=evidence.request.get_absolute_url())
    return evidence


@transaction.atomic
def evidence_return(*, evidence: Evidence, reviewer, reason: str) -> Evidence:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say what is missing or wrong, so the team can fix it."})
    evidence = _locked_evidence(evidence)
    if evidence.status != EvidenceStatus.PENDING:
        raise ValidationError(f"This evidence is already {evidence.get_status_display().lower()}.")
    permissions.require(reviewer, permissions.REVIEW, evidence)
    evidence.status = EvidenceStatus.RETURNED
    evidence.reviewed_by, evidence.reviewed_at, evidence.review_reason = reviewer, timezone.now(), reason
    evidence.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_reason"])
    _move_request(evidence.request, RequestStatus.RETURNED, actor=reviewer, verb="evidence.returned",
                  details={"evidence": evidence.pk}, message=reason)
    notify(users=members_of(evidence.request.owner_team), kind="evidence.returned",
           subject=f"Returned: {evidence.request}", template="evidence_returned",
           context={"request": evidence.request, "evidence": evidence, "reviewer": reviewer, "reason": reason},
           url=evidence.request.get_absolute_url())
    return evidence


def request_return_to_team(*, request: EvidenceRequest, actor, reason: str) -> EvidenceRequest:
    """An auditor found the approved answer to their request incomplete: it goes back to the
    team. Only an auditor's request moves back from approved (its evidence stays approved and
    unchanged; the team adds to it). Call inside the auditor's decision transaction."""
    request = EvidenceRequest.objects.select_for_update().get(pk=request.pk)
    if not request.is_audit_request:
        raise ValidationError("Only an auditor's request goes back to the team once approved.")
    if request.status != RequestStatus.APPROVED:
        raise ValidationError("It is still with the team or in review; comment on it instead of returning it.")
    # A week to answer at the least: the old due date may have passed while Security reviewed.
    due_on = max(request.due_on, timezone.localdate() + dt.timedelta(days=AUDITOR_RETURN_DAYS))
    before = {"status": request.status, "due_on": request.due_on.isoformat()}
    request.status, request.due_on = RequestStatus.RETURNED, due_on
    request.save(update_fields=["status", "due_on", "updated_at"])
    activity_record(actor=actor, verb="evidence.returned_by_auditor", obj=request, before=before,
                    after={"status": RequestStatus.RETURNED, "due_on": due_on.isoformat()}, message=reason)
    return request


def evidence_file_downloaded(*, evidence_file: EvidenceFile, user) -> None:
    """Record who downloaded which file, and when."""
    with transaction.atomic():
        activity_record(actor=user, verb="evidence.downloaded", obj=evidence_file.evidence.request,
                        after={"file": evidence_file.pk, "name": evidence_file.original_name,
                               "sha256": evidence_file.sha256})


# --- reminders and digests ---------------------------------------------------------------

def _reminder_for(request: EvidenceRequest, as_of: dt.date) -> tuple[str, int] | None:
    """Which reminder a request is owed today: the nearest configured day before the due
    date not yet passed, the due day itself, or the current week of lateness."""
    days_left = (request.due_on - as_of).days
    if days_left > 0:
        thresholds = [d for d in settings.EVIDENCE_REMINDER_DAYS if d >= days_left]
        return (ReminderKind.BEFORE_DUE, min(thresholds)) if thresholds else None
    if days_left == 0:
        return ReminderKind.DUE_TODAY, 0
    return ReminderKind.ESCALATION, (-days_left - 1) // 7


def _send_reminder(request: EvidenceRequest, kind: str, key: int, as_of: dt.date) -> bool:
    if kind == ReminderKind.ESCALATION:
        people = [request.owner_team.lead, *security_people()]
        subject = f"Overdue: {request} was due {request.due_on:%d %b %Y}"
        template = "evidence_escalation"
    else:
        people = members_of(request.owner_team)
        days = (request.due_on - as_of).days
        subject = (f"Due today: {request}" if kind == ReminderKind.DUE_TODAY
                   else f"Due in {days} day{'s' if days != 1 else ''}: {request}")
        template = "evidence_reminder"
    try:
        with transaction.atomic():
            reminder = EvidenceReminder.objects.create(request=request, kind=kind, key=key)
            sent_to = notify(users=people, kind=f"evidence.{kind}", subject=subject, template=template,
                             context={"request": request, "as_of": as_of,
                                      "days_overdue": (as_of - request.due_on).days},
                             url=request.get_absolute_url())
            reminder.recipients = ", ".join(u.username for u in sent_to)
            EvidenceReminder.objects.filter(pk=reminder.pk).update(recipients=reminder.recipients)
            activity_record(actor=None, verb=f"evidence_request.{kind}", obj=request,
                            after={"key": key, "to": reminder.recipients}, message=subject)
        return True
    except IntegrityError:
        return False  # already sent by another run


def reminders_send(*, as_of: dt.date) -> dict:
    horizon = as_of + dt.timedelta(days=max(settings.EVIDENCE_REMINDER_DAYS, default=0))
    requests = list(
        EvidenceRequest.objects.awaiting_team().filter(due_on__lte=horizon, opens_on__lte=as_of)
        .select_related("owner_team__lead", "template", "control")
    )
    sent_already = set(
        EvidenceReminder.objects.filter(request__status__in=AWAITING_TEAM, request__due_on__lte=horizon)
        .values_list("request_id", "kind", "key")
    )
    counts: dict[str, int] = defaultdict(int)
    for request in requests:
        owed = _reminder_for(request, as_of)
        if owed is None or (request.pk, *owed) in sent_already:
            continue
        if _send_reminder(request, *owed, as_of):
            counts[owed[0]] += 1
    return {"checked": len(requests), **{f"sent_{k}": v for k, v in counts.items()}}


def digests_send(*, as_of: dt.date) -> dict:
    """Once per ISO week, tell each team what it owes: overdue, returned, due soon, open."""
    year, week, _ = as_of.isocalendar()
    week_key = f"{year}-W{week:02d}"
    soon = as_of + dt.timedelta(days=settings.EVIDENCE_DUE_SOON_DAYS)
    outstanding = defaultdict(list)
    for request in (EvidenceRequest.objects.awaiting_team().filter(opens_on__lte=as_of)
                    .exclude(owner_team__digests__week=week_key).select_related("owner_team")
                    .order_by("due_on")):
        outstanding[request.owner_team].append(request)
    sent = 0
    for team, requests in outstanding.items():
        try:
            with transaction.atomic():
                TeamDigest.objects.create(team=team, week=week_key)
                notify(
                    users=members_of(team), kind="evidence.digest",
                    subject=f"{team.name}: {len(requests)} evidence request{'s' if len(requests) != 1 else ''} "
                            f"outstanding ({week_key})",
                    template="team_digest",
                    context={"team": team, "week": week_key,
                             "overdue": [r for r in requests if r.due_on < as_of],
                             "returned": [r for r in requests if r.status == RequestStatus.RETURNED],
                             "due_soon": [r for r in requests if as_of <= r.due_on <= soon],
                             "later": [r for r in requests if r.due_on > soon]},
                    url="/evidence/",
                )
            sent += 1
        except IntegrityError:
            continue
    return {"week": week_key, "sent": sent}


# --- calendar feeds --------------------------------------------------------------------------

@transaction.atomic
def calendar_feed_create(*, team: Team, actor: User) -> CalendarFeed:
    permissions.require(actor, permissions.MANAGE, CalendarFeed(team=team))
    feed = CalendarFeed.objects.create(team=team, created_by=actor)
    activity_record(actor=actor, verb="calendar_feed.created", obj=team, after={"feed": feed.pk})
    return feed


@transaction.atomic
def calendar_feed_revoke(*, feed: CalendarFeed, actor: User) -> CalendarFeed:
    feed = CalendarFeed.objects.select_for_update().get(pk=feed.pk)
    permissions.require(actor, permissions.MANAGE, feed)
    if feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
        activity_record(actor=actor, verb="calendar_feed.revoked", obj=feed.team, after={"feed": feed.pk})
    return feed
