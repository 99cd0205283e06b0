"""Writes for audits: engagements and their auditors, auditor requests (the PBC list),
comments, samples and report jobs.

Every service is atomic, asks ``soc2hub.permissions`` and records the change in the activity
log. An auditor request is answered through an ordinary evidence request addressed to the
evidence owner team, so the upload, Security's review and the reminders are the evidence
flow's own; ``audit_request_evidence_approved`` is the evidence flow telling the auditors.
"""

import datetime as dt
import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from audits.models import (
    Audit,
    AuditAuditor,
    AuditComment,
    AuditRequest,
    AuditRequestStatus,
    AuditSample,
    AuditStatus,
    Population,
    ReportJob,
    ReportKind,
    ReportStatus,
)
from controls.models import Control, Criterion
from evidence.services import request_return_to_team
from evidence.models import EvidenceRequest, EvidenceStatus, EvidenceTemplate, RequestStatus
from nhi.models import NonHumanIdentity
from soc2hub import jobqueue, permissions
from soc2hub.models import Role, User
from soc2hub.notifications import members_of, notify, security_people
from soc2hub.services import activity_record

AUDIT_FIELDS = ("name", "firm", "type", "as_of", "period_start", "period_end", "categories")

# The one place an audit's status moves.
STATUS_MOVES = {
    AuditStatus.PLANNING: {AuditStatus.FIELDWORK, AuditStatus.CLOSED},
    AuditStatus.FIELDWORK: {AuditStatus.REPORTING, AuditStatus.CLOSED},
    AuditStatus.REPORTING: {AuditStatus.FIELDWORK, AuditStatus.CLOSED},
    AuditStatus.CLOSED: set(),
}

MAX_SAMPLE = 1_000


def _snapshot(audit: Audit) -> dict:
    return {name: (v.isoformat() if hasattr(v, "isoformat") else v)
            for name in AUDIT_FIELDS for v in [getattr(audit, name)]}


# --- engagements ---------------------------------------------------------------------------

@transaction.atomic
def audit_create(*, actor, **fields) -> Audit:
    permissions.require(actor, permissions.ADD, Audit)
    audit = Audit(created_by=actor, **fields)
    audit.full_clean(exclude=["created_by"])
    audit.save()
    activity_record(actor=actor, verb="audit.created", obj=audit, after=_snapshot(audit))
    return audit


@transaction.atomic
def audit_update(*, audit: Audit, actor, **fields) -> Audit:
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    permissions.require(actor, permissions.CHANGE, audit)
    if audit.is_closed:
        raise ValidationError("A closed audit no longer changes.")
    unknown = set(fields) - set(AUDIT_FIELDS)
    if unknown:
        raise ValidationError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    before = _snapshot(audit)
    for name, value in fields.items():
        setattr(audit, name, value)
    audit.full_clean(exclude=["created_by"])
    audit.save()
    after = _snapshot(audit)
    if after != before:
        activity_record(actor=actor, verb="audit.changed", obj=audit,
                        before={k: v for k, v in before.items() if after[k] != v},
                        after={k: v for k, v in after.items() if before[k] != v})
    return audit


@transaction.atomic
def audit_set_status(*, audit: Audit, actor, status: str) -> Audit:
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    permissions.require(actor, permissions.CHANGE, audit)
    if status not in STATUS_MOVES[audit.status]:
        raise ValidationError(f"This audit is in {audit.get_status_display().lower()}; it cannot move to "
                              f"{AuditStatus(status).label.lower() if status in AuditStatus.values else status}.")
    before, audit.status = audit.status, status
    audit.save(update_fields=["status", "updated_at"])
    activity_record(actor=actor, verb="audit.status_changed", obj=audit, before={"status": before},
                    after={"status": status})
    return audit


@transaction.atomic
def audit_auditor_set(*, audit: Audit, actor, user: User, access_ends_on: dt.date) -> AuditAuditor:
    """Give an auditor access to the audit until ``access_ends_on`` (or change that date)."""
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    permissions.require(actor, permissions.MANAGE, audit)
    if user is None or not user.is_active or Role.AUDITORS not in user.group_names():
        raise ValidationError({"user": "Choose an active person in the Auditors group."})
    if access_ends_on is None or access_ends_on < timezone.localdate():
        raise ValidationError({"access_ends_on": "Access must end today or later; to end it now, use “End access now”."})
    assignment, created = AuditAuditor.objects.select_for_update().get_or_create(
        audit=audit, user=user, defaults={"access_ends_on": access_ends_on, "added_by": actor})
    before = None if created else assignment.access_ends_on.isoformat()
    if not created:
        assignment.access_ends_on = access_ends_on
        assignment.save(update_fields=["access_ends_on"])
    activity_record(actor=actor, verb="audit.auditor_added" if created else "audit.auditor_changed", obj=audit,
                    before={"user": user.username, "access_ends_on": before} if before else None,
                    after={"user": user.username, "access_ends_on": access_ends_on.isoformat()})
    return assignment


@transaction.atomic
def audit_auditor_end(*, audit: Audit, actor, user: User) -> AuditAuditor:
    """End an auditor's access now. The assignment is kept: the access log points at it."""
    permissions.require(actor, permissions.MANAGE, audit)
    assignment = AuditAuditor.objects.select_for_update().filter(audit=audit, user=user).first()
    if assignment is None:
        raise ValidationError(f"{user} is not an auditor of {audit}.")
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    before = assignment.access_ends_on
    if before > yesterday:
        assignment.access_ends_on = yesterday
        assignment.save(update_fields=["access_ends_on"])
        activity_record(actor=actor, verb="audit.auditor_ended", obj=audit,
                        before={"user": user.username, "access_ends_on": before.isoformat()},
                        after={"user": user.username, "access_ends_on": yesterday.isoformat()})
    return assignment


def auditors_of(audit: Audit) -> list[User]:
    return list(User.objects.filter(audit_assignments__audit=audit, is_active=True,
                                    audit_assignments__access_ends_on__gte=timezone.localdate()).order_by("pk"))


# --- auditor requests ----------------------------------------------------------------------

def _answering_team(audit: Audit, control: Control | None, criterion: Criterion | None):
    in_scope = set(audit.categories)
    if control is not None and not audit.controls().filter(pk=control.pk).exists():
        raise ValidationError({"control": f"{control.ref} is not mapped to a criterion in this audit's scope."})
    if criterion is not None and criterion.category not in in_scope:
        raise ValidationError({"criterion": f"{criterion.code} is not in this audit's scope."})
    if control is not None and criterion is not None and not control.criteria.filter(pk=criterion.pk).exists():
        raise ValidationError({"criterion": f"{control.ref} is not mapped to {criterion.code}; name one of them, "
                                            "or a criterion the control answers."})
    owner = (control or criterion).evidence_owner
    if owner is None:
        raise ValidationError(f"{control.ref if control else criterion.code} has no evidence owner team yet; "
                              "ask Security to assign one.")
    return owner


@transaction.atomic
def audit_request_raise(*, audit: Audit, actor, title: str, description: str, due_on: dt.date,
                        control: Control | None = None, criterion: Criterion | None = None) -> AuditRequest:
    """An auditor asks for evidence. The evidence owner team of the control (or, failing a
    control, of the criterion) gets an evidence request covering the audit window."""
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    permissions.require(actor, permissions.RAISE_REQUEST, audit)
    title, description = (title or "").strip(), (description or "").strip()
    errors = {}
    if not title:
        errors["title"] = "Give the request a short title."
    if not description:
        errors["description"] = "Say what you need, for which period or population."
    if control is None and criterion is None:
        errors["control"] = "Name the control (or the criterion) the request is about."
    if due_on is None:
        errors["due_on"] = "Give a due date."
    elif due_on < timezone.localdate():
        errors["due_on"] = "The due date cannot be in the past."
    elif due_on > timezone.localdate() + dt.timedelta(days=366):
        errors["due_on"] = "The due date is more than a year away."
    if errors:
        raise ValidationError(errors)
    team = _answering_team(audit, control, criterion)
    number = (audit.requests.aggregate(last=Max("number"))["last"] or 0) + 1
    evidence_request = EvidenceRequest.objects.create(
        template=None, control=control, owner_team=team, title=f"PBC-{number}: {title}"[:250],
        period_start=audit.window_start, period_end=audit.window_end,
        period_label=f"{audit.window_start:%b %Y}–{audit.window_end:%b %Y}",
        opens_on=timezone.localdate(), due_on=due_on,
    )
    audit_request = AuditRequest.objects.create(
        audit=audit, number=number, title=title, description=description, control=control, criterion=criterion,
        due_on=due_on, evidence_request=evidence_request, raised_by=actor,
    )
    activity_record(actor=actor, verb="audit_request.raised", obj=audit_request,
                    after={"audit": audit.pk, "number": number, "team": team.slug, "due_on": due_on.isoformat(),
                           "control": control.ref if control else None,
                           "criterion": criterion.code if criterion else None, "evidence_request": evidence_request.pk})
    notify(users=members_of(team), kind="audit.request_raised",
           subject=f"Auditor request {audit_request.reference}: {title}, due {due_on:%d %b %Y}",
           template="audit_request_raised", context={"audit_request": audit_request, "team": team},
           url=evidence_request.get_absolute_url())
    return audit_request


def audit_request_evidence_approved(*, evidence_request: EvidenceRequest) -> None:
    """Security approved the answer to an auditor request: tell the auditors it is ready.
    Called by ``evidence_approve`` inside its transaction."""
    audit_request = AuditRequest.objects.select_related("audit").filter(evidence_request=evidence_request).first()
    if audit_request is None:
        return
    activity_record(actor=None, verb="audit_request.ready", obj=audit_request,
                    after={"evidence_request": evidence_request.pk})
    notify(users=auditors_of(audit_request.audit), kind="audit.request_ready",
           subject=f"Ready for you: {audit_request.reference} {audit_request.title}",
           template="audit_request_ready", context={"audit_request": audit_request},
           url=audit_request.get_absolute_url())


def _locked_request(audit_request: AuditRequest) -> AuditRequest:
    """The request and its evidence request, both locked: an accept waiting on a concurrent
    return must see the evidence request the return left behind."""
    return (AuditRequest.objects.select_for_update(of=("self", "evidence_request"))
            .select_related("audit", "evidence_request__owner_team").get(pk=audit_request.pk))


@transaction.atomic
def audit_request_accept(*, audit_request: AuditRequest, actor, comment: str = "") -> AuditRequest:
    audit_request = _locked_request(audit_request)
    permissions.require(actor, permissions.DECIDE, audit_request)
    if audit_request.status == AuditRequestStatus.ACCEPTED:
        raise ValidationError(f"{audit_request.reference} is already accepted.")
    if audit_request.evidence_request.status != RequestStatus.APPROVED:
        raise ValidationError(f"{audit_request.reference} has no answer approved by Security yet; it can be "
                              "accepted once it has.")
    audit_request.status = AuditRequestStatus.ACCEPTED
    audit_request.accepted_by, audit_request.accepted_at = actor, timezone.now()
    audit_request.save(update_fields=["status", "accepted_by", "accepted_at"])
    comment = (comment or "").strip()
    if comment:
        AuditComment.objects.create(audit_request=audit_request, author=actor, body=comment)
    activity_record(actor=actor, verb="audit_request.accepted", obj=audit_request, before={"status": "open"},
                    after={"status": "accepted"}, message=comment)
    notify(users=[*members_of(audit_request.evidence_request.owner_team), *security_people()],
           kind="audit.request_accepted", subject=f"Accepted by the auditor: {audit_request.reference} "
                                                  f"{audit_request.title}",
           template="audit_request_decided", context={"audit_request": audit_request, "accepted": True,
                                                      "comment": comment},
           url=audit_request.evidence_request.get_absolute_url())
    return audit_request


@transaction.atomic
def audit_request_return(*, audit_request: AuditRequest, actor, comment: str) -> AuditRequest:
    """The auditor needs more: the evidence request goes back to the team with the comment."""
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": "Say what is missing, so the team can answer it."})
    audit_request = _locked_request(audit_request)
    permissions.require(actor, permissions.DECIDE, audit_request)
    if audit_request.status == AuditRequestStatus.ACCEPTED:
        raise ValidationError(f"{audit_request.reference} is already accepted.")
    if audit_request.evidence_request.status != RequestStatus.APPROVED:
        raise ValidationError(f"{audit_request.reference} is still with the team or in review; comment on it "
                              "instead of returning it.")
    evidence_request = request_return_to_team(request=audit_request.evidence_request, actor=actor, reason=comment)
    AuditComment.objects.create(audit_request=audit_request, author=actor, body=comment)
    activity_record(actor=actor, verb="audit_request.returned", obj=audit_request, message=comment)
    notify(users=[*members_of(evidence_request.owner_team), *security_people()], kind="audit.request_returned",
           subject=f"Returned by the auditor: {audit_request.reference} {audit_request.title}",
           template="audit_request_decided", context={"audit_request": audit_request, "accepted": False,
                                                      "comment": comment},
           url=evidence_request.get_absolute_url())
    return audit_request


@transaction.atomic
def audit_comment_add(*, audit_request: AuditRequest, actor, body: str) -> AuditComment:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write a comment first."})
    if len(body) > 5000:
        raise ValidationError({"body": "Keep a comment under 5,000 characters."})
    audit_request = _locked_request(audit_request)
    permissions.require(actor, permissions.COMMENT, audit_request)
    comment = AuditComment.objects.create(audit_request=audit_request, author=actor, body=body)
    activity_record(actor=actor, verb="audit_request.commented", obj=audit_request, message=body)
    people = [*auditors_of(audit_request.audit), *members_of(audit_request.evidence_request.owner_team),
              *security_people()]
    notify(users=[p for p in people if p.pk != actor.pk], kind="audit.comment",
           subject=f"Comment on {audit_request.reference} {audit_request.title}", template="audit_comment",
           context={"audit_request": audit_request, "comment": comment}, url=audit_request.get_absolute_url())
    return comment


# --- samples -------------------------------------------------------------------------------

def sample_population(audit: Audit, population: str, *, template: EvidenceTemplate | None = None,
                      control: Control | None = None) -> list[int]:
    """The ids of a population, in a fixed order (ascending id), as of now."""
    start, end = audit.window_start, audit.window_end
    if population == Population.TEMPLATE_REQUESTS:
        if template is None:
            raise ValidationError({"template": "Choose the evidence standard whose requests form the population."})
        if not audit.controls().filter(pk=template.control_id).exists():
            raise ValidationError({"template": "That standard's control is not in this audit's scope."})
        rows = EvidenceRequest.objects.filter(template=template, period_end__gte=start, period_end__lte=end)
        return list(rows.order_by("pk").values_list("pk", flat=True))
    if population == Population.CONTROL_EVIDENCE:
        if control is None:
            raise ValidationError({"control": "Choose the control whose evidence forms the population."})
        if not audit.controls().filter(pk=control.pk).exists():
            raise ValidationError({"control": f"{control.ref} is not in this audit's scope."})
        from evidence.models import EvidenceFile

        rows = EvidenceFile.objects.filter(audit.evidence_request_q("evidence__request__"),
                                           evidence__status=EvidenceStatus.APPROVED,
                                           evidence__request__control=control)
        return list(rows.order_by("pk").values_list("pk", flat=True))
    if population == Population.NHIS_REVOKED:
        rows = NonHumanIdentity.objects.filter(revoked_on__gte=start, revoked_on__lte=end)
        return list(rows.order_by("pk").values_list("pk", flat=True))
    if population == Population.NHIS_CREATED:
        rows = NonHumanIdentity.objects.filter(created_on__gte=start, created_on__lte=end)
        return list(rows.order_by("pk").values_list("pk", flat=True))
    raise ValidationError({"population": "Choose a population."})


def sample_draw(population_ids: list[int], size: int, seed: str) -> list[int]:
    """The sample: each id ranked by the SHA-256 of ``"<seed>:<id>"`` (hex), the ``size``
    lowest taken. The same population, size and seed always give the same ids, in the same
    order, and anyone can repeat the draw without soc2hub (``sha256sum`` and ``sort``): no
    random-number generator whose sequence could change between versions."""
    def rank(pk: int) -> str:
        return hashlib.sha256(f"{seed}:{pk}".encode()).hexdigest()

    return sorted(population_ids, key=rank)[:size]


@transaction.atomic
def audit_sample_create(*, audit: Audit, actor, population: str, size: int, template=None, control=None,
                        seed: str = "", note: str = "") -> AuditSample:
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    permissions.require(actor, permissions.SAMPLE, audit)
    if population not in Population.values:
        raise ValidationError({"population": "Choose a population."})
    if size is None or size < 1:
        raise ValidationError({"size": "A sample has at least one item."})
    if size > MAX_SAMPLE:
        raise ValidationError({"size": f"A sample has at most {MAX_SAMPLE:,} items."})
    seed = (seed or "").strip() or secrets.token_hex(8)
    if len(seed) > 64:
        raise ValidationError({"seed": "A seed is at most 64 characters."})
    ids = sample_population(audit, population, template=template, control=control)
    if not ids:
        raise ValidationError("That population is empty for this audit's window; there is nothing to sample.")
    if size > len(ids):
        raise ValidationError({"size": f"The population has {len(ids):,} items; choose at most that many."})
    sample = AuditSample.objects.create(
        audit=audit, population=population, template=template if population == Population.TEMPLATE_REQUESTS else None,
        control=control if population == Population.CONTROL_EVIDENCE else None, population_ids=ids, size=size,
        seed=seed, selected_ids=sample_draw(ids, size, seed), note=(note or "").strip(), created_by=actor,
    )
    activity_record(actor=actor, verb="audit.sample_drawn", obj=audit,
                    after={"sample": sample.pk, "population": population, "population_size": len(ids),
                           "size": size, "seed": seed, "selected": sample.selected_ids})
    return sample


# --- report jobs ---------------------------------------------------------------------------

def report_request(*, audit: Audit, actor, kind: str) -> ReportJob:
    """Queue a report for the audit; a Celery worker renders it and records its progress. When
    the task queue is down the job is kept and ``QueueUnavailable`` says it will start later."""
    from audits import tasks

    with transaction.atomic():
        job = _report_job_for(audit=audit, actor=actor, kind=kind)
        if job.status == ReportStatus.QUEUED and (job.enqueued_at is None or job.enqueued_at < jobqueue.lost_before()):
            # New, waiting for a queue that was down, or its message lost: asking again sends it.
            jobqueue.enqueue_on_commit(job, tasks.report_generate, job.pk)
    jobqueue.raise_if_unqueued(job, "report")
    return job


def _report_job_for(*, audit: Audit, actor, kind: str) -> ReportJob:
    permissions.require(actor, permissions.REPORT, audit)
    if kind not in ReportKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(ReportKind.values)}."})
    # The same report already on its way is the answer: a double click or an impatient second
    # request does not read every evidence file again.
    pending = ReportJob.objects.filter(
        Q(status=ReportStatus.QUEUED) | Q(status=ReportStatus.RUNNING, heartbeat_at__gte=jobqueue.stale_before()),
        audit=audit, kind=kind)
    if (job := pending.select_for_update().order_by("-created_at").first()) is not None:
        return job
    # One whose worker died: back in the queue, the same job (never a second one beside it).
    from audits import reports

    stale = ReportJob.objects.filter(audit=audit, kind=kind, status=ReportStatus.RUNNING).order_by("-created_at")
    if (job := stale.first()) is not None and reports.report_requeue_stale([job.pk]):
        job.refresh_from_db()
        return job
    job = ReportJob.objects.create(audit=audit, kind=kind, requested_by=actor)
    activity_record(actor=actor, verb="report.requested", obj=job, after={"audit": audit.pk, "kind": kind})
    return job


def report_downloaded(*, job: ReportJob, user) -> None:
    with transaction.atomic():
        activity_record(actor=user, verb="report.downloaded", obj=job,
                        after={"audit": job.audit_id, "kind": job.kind, "sha256": job.sha256})
