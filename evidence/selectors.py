"""Reads of evidence, scoped to the person asking."""

from django.conf import settings
from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from evidence.models import AWAITING_TEAM, Evidence, EvidenceFile, EvidenceRequest, EvidenceTemplate, RequestStatus
from evidence.services import template_year_ahead
from soc2hub import permissions
from soc2hub.models import ActivityLog, User


def requests_for_list(*, user):
    return permissions.restrict(
        EvidenceRequest.objects.select_related("owner_team", "control", "template", "audit_request__audit"), user
    ).order_by("due_on", "id")


def request_counts(*, user) -> dict:
    """The figures above the request list, for everything the user may see."""
    today = timezone.localdate()
    soon = today + timezone.timedelta(days=settings.EVIDENCE_DUE_SOON_DAYS)
    awaiting = Q(status__in=AWAITING_TEAM)
    return permissions.restrict(EvidenceRequest.objects.all(), user).aggregate(
        outstanding=Count("pk", filter=awaiting),
        overdue=Count("pk", filter=awaiting & Q(due_on__lt=today)),
        due_soon=Count("pk", filter=awaiting & Q(due_on__gte=today, due_on__lte=soon)),
        returned=Count("pk", filter=Q(status=RequestStatus.RETURNED)),
        submitted=Count("pk", filter=Q(status=RequestStatus.SUBMITTED)),
        approved=Count("pk", filter=Q(status=RequestStatus.APPROVED)),
    )


def request_detail(*, user, pk: int) -> EvidenceRequest:
    submissions = Evidence.objects.select_related("submitted_by", "reviewed_by").prefetch_related(
        Prefetch("files", queryset=EvidenceFile.objects.select_related("uploaded_by"))
    )
    return requests_for_list(user=user).prefetch_related(
        Prefetch("submissions", queryset=submissions)
    ).select_related("template__reviewer_group", "owner_team__lead", "audit_request__audit",
                     "audit_request__raised_by").get(pk=pk)


def review_queue(*, user):
    return (
        permissions.restrict(Evidence.objects.all(), user, permissions.REVIEW)
        .select_related("request__control", "request__owner_team", "request__template", "submitted_by")
        .annotate(file_count=Count("files"))
        .order_by("submitted_at", "id")
    )


def request_history(request: EvidenceRequest):
    return ActivityLog.objects.for_object(request).select_related("actor").order_by("created_at", "id")


def templates_for_list(*, user):
    return permissions.restrict(
        EvidenceTemplate.objects.select_related("control", "owner_team", "reviewer_group"), user
    ).order_by("control__ref", "title")


def year_ahead(*, templates, today=None) -> list[dict]:
    """What each template will ask for over the next twelve months, soonest first."""
    today = today or timezone.localdate()
    rows = []
    for template in templates:
        for period, opens_on, due_on in template_year_ahead(template, today=today):
            rows.append({"template": template, "period": period, "opens_on": opens_on, "due_on": due_on})
    return sorted(rows, key=lambda row: (row["due_on"], row["template"].title))


def independent_reviewers(*, template: EvidenceTemplate):
    """Active members of the standard's reviewing group outside its owning team: the people
    who may approve its evidence (segregation of duties, ``permissions.conflict_of_interest``)."""
    return (User.objects.filter(groups=template.reviewer_group_id, is_active=True)
            .exclude(memberships__team_id=template.owner_team_id).distinct())
