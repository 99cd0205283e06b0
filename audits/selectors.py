"""Reads for audits. Everything an auditor sees goes through ``audit_for`` first (the audit
they may see, or 404/403), then reads *that audit's* scope: the criteria of its categories,
the evidence requests its window covers (``Audit.evidence_request_q``) and their approved
evidence, the exception register and the NHI inventory as of its window."""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.utils import timezone

from audits.models import Audit, AuditAuditor, AuditorAccess, AuditRequest, AuditSample, ReportJob
from controls.models import Control
from evidence.models import Evidence, EvidenceFile, EvidenceRequest, EvidenceStatus
from exceptions.models import ExceptionRecord, ExceptionStatus
from nhi.models import NhiKind, NonHumanIdentity, RotationRecord
from soc2hub import permissions


def audits_for(*, user):
    return permissions.restrict(Audit.objects.all(), user).annotate(
        request_count=Count("requests", distinct=True),
        open_request_count=Count("requests", filter=Q(requests__status="open"), distinct=True),
    ).order_by("-created_at", "-id")


def audit_for(*, user, pk) -> Audit:
    """The audit, if ``user`` may see it: 404 when it is not theirs (nothing is said about
    other audits), 403 with the reason when their access to it has ended."""
    audit = Audit.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if audit is None:
        raise Http404("No such audit.")
    verdict = permissions.RULES[(Audit, permissions.VIEW)](user, audit)
    if isinstance(verdict, permissions.Denied):
        raise PermissionDenied(str(verdict))
    if not verdict:
        raise Http404("No such audit.")
    return audit


def assignments(audit: Audit):
    return AuditAuditor.objects.filter(audit=audit).select_related("user", "added_by").order_by("user__username")


def evidence_requests(audit: Audit):
    """The evidence requests the audit covers, with their approved evidence counted."""
    return (
        EvidenceRequest.objects.filter(audit.evidence_request_q())
        .select_related("control", "owner_team", "template", "audit_request")
        .annotate(approved_files=Count("submissions__files",
                                       filter=Q(submissions__status=EvidenceStatus.APPROVED)))
        .order_by("control__ref", "period_end", "id")
    )


def evidence_request(audit: Audit, pk) -> EvidenceRequest:
    approved = Evidence.objects.filter(status=EvidenceStatus.APPROVED).select_related(
        "submitted_by", "reviewed_by").prefetch_related("files")
    request = (evidence_requests(audit).prefetch_related(Prefetch("submissions", queryset=approved,
                                                                  to_attr="approved_submissions"))
               .filter(pk=pk).first()) if str(pk).isdigit() else None
    if request is None:
        raise Http404("This audit covers no such evidence request.")
    return request


def evidence_files(audit: Audit):
    """Every approved evidence file the audit covers: the evidence index and the package."""
    return (
        EvidenceFile.objects.filter(audit.evidence_request_q("evidence__request__"),
                                    evidence__status=EvidenceStatus.APPROVED)
        .select_related("evidence__request__control", "evidence__request__owner_team",
                        "evidence__request__audit_request", "evidence__reviewed_by")
        .order_by("evidence__request__control__ref", "evidence__request__period_end", "evidence__request_id", "id")
    )


def evidence_file(audit: Audit, pk) -> EvidenceFile:
    found = evidence_files(audit).filter(pk=pk).first() if str(pk).isdigit() else None
    if found is None:
        raise Http404("This audit covers no such evidence file.")
    return found


def exceptions_in_window(audit: Audit):
    """The exception register as of the window: every exception raised by the window's end
    (drafts aside) that had not expired before it began."""
    end = dt.datetime.combine(audit.window_end, dt.time.max, tzinfo=timezone.get_current_timezone())
    return (
        ExceptionRecord.objects.exclude(status=ExceptionStatus.DRAFT)
        .filter(created_at__lte=end, expires_on__gte=audit.window_start)
        .select_related("requesting_team", "business_owner")
        .prefetch_related(Prefetch("controls", queryset=Control.objects.order_by("ref").only("pk", "ref")))
        .order_by("created_at", "id")
    )


def nhi_summary(audit: Audit) -> dict:
    """The NHI inventory as of the window: what existed during it, by kind, what was revoked
    and rotated in it, and the live identities' state at the window's end."""
    start, end = audit.window_start, audit.window_end
    existed = NonHumanIdentity.objects.filter(
        Q(created_on__lte=end) | Q(created_on__isnull=True, created_at__date__lte=end)
    ).filter(Q(revoked_on__isnull=True) | Q(revoked_on__gte=start))
    by_kind = {row["kind"]: row for row in existed.values("kind").annotate(
        total=Count("pk"),
        revoked=Count("pk", filter=Q(revoked_on__gte=start, revoked_on__lte=end)),
        owned=Count("pk", filter=Q(owner_team__isnull=False)),
        admin=Count("pk", filter=Q(has_admin_access=True)),
    ).order_by()}
    kinds = [{"kind": kind, "label": label, **by_kind.get(kind, {"total": 0, "revoked": 0, "owned": 0, "admin": 0})}
             for kind, label in NhiKind.choices]
    live_at_end = existed.filter(Q(revoked_on__isnull=True) | Q(revoked_on__gt=end))
    state = live_at_end.aggregate(
        live=Count("pk"),
        never_rotated=Count("pk", filter=Q(last_rotated_on__isnull=True, rotation_interval_days__isnull=False)),
        overdue=Count("pk", filter=Q(rotation_due_on__lt=end)),
        unowned=Count("pk", filter=Q(owner_team__isnull=True)),
        third_party=Count("pk", filter=~Q(vendor="")),
    )
    rotations = RotationRecord.objects.filter(rotated_on__gte=start, rotated_on__lte=end).count()
    return {
        "start": start, "end": end, "kinds": kinds, "total": sum(k["total"] for k in kinds),
        "owned_total": sum(k["owned"] for k in kinds), "admin_total": sum(k["admin"] for k in kinds),
        "revoked_in_window": sum(k["revoked"] for k in kinds), "rotations_in_window": rotations, **state,
    }


def audit_requests(audit: Audit):
    return (audit.requests.select_related("control", "criterion", "raised_by", "evidence_request__owner_team")
            .annotate(comment_count=Count("comments")).order_by("-number"))


def audit_request(audit: Audit, number) -> AuditRequest:
    found = (audit.requests.select_related("control", "criterion", "raised_by", "accepted_by",
                                           "evidence_request__owner_team")
             .filter(number=number).first()) if str(number).isdigit() else None
    if found is None:
        raise Http404("This audit has no such request.")
    return found


def audit_requests_for_team(*, user):
    """Auditor requests addressed to the teams ``user`` belongs to (their to-do list)."""
    return permissions.restrict(AuditRequest.objects.all(), user).select_related(
        "audit", "evidence_request__owner_team").order_by("due_on", "id")


def samples(audit: Audit):
    return audit.samples.select_related("template", "control", "created_by")


def sample(audit: Audit, pk) -> AuditSample:
    found = samples(audit).filter(pk=pk).first() if str(pk).isdigit() else None
    if found is None:
        raise Http404("This audit has no such sample.")
    return found


def reports(audit: Audit):
    return audit.reports.select_related("requested_by")


def report(audit: Audit, pk) -> ReportJob:
    found = reports(audit).filter(pk=pk).first() if str(pk).isdigit() else None
    if found is None:
        raise Http404("This audit has no such report.")
    return found


def access_log(audit: Audit):
    """What was opened in this audit, by anyone logged, and everything this audit's auditors
    did anywhere else (pages outside the portal, another audit's ids): their refusals too."""
    auditors = AuditAuditor.objects.filter(audit=audit).values("user_id")
    return AuditorAccess.objects.filter(Q(audit=audit) | Q(user_id__in=auditors)).select_related("user", "audit")
