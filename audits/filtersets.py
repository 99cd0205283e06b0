"""Filters for the audit's lists. Each takes the audit, so its choices are the audit's own
(its controls, its auditors): nothing outside the engagement is offered or matched."""

import django_filters
from django.db.models import Q

from audits.models import AuditorAccess, AuditRequest, AuditRequestStatus
from controls.models import Control
from evidence.models import EvidenceRequest, RequestStatus
from soc2hub.models import User

REFUSED_CODES = (401, 403, 404, 405)

STAGES = [
    ("with_team", "With the team"),
    ("in_review", "In review by Security"),
    ("ready", "Ready for the auditor"),
    ("accepted", "Accepted"),
]

# ``AuditRequest.stage`` as SQL, so the list filters and paginates in the database.
STAGE_Q = {
    "with_team": Q(status=AuditRequestStatus.OPEN,
                   evidence_request__status__in=[RequestStatus.OPEN, RequestStatus.RETURNED]),
    "in_review": Q(status=AuditRequestStatus.OPEN, evidence_request__status=RequestStatus.SUBMITTED),
    "ready": Q(status=AuditRequestStatus.OPEN, evidence_request__status=RequestStatus.APPROVED),
    "accepted": Q(status=AuditRequestStatus.ACCEPTED),
}


class AuditEvidenceFilterSet(django_filters.FilterSet):
    control = django_filters.ModelChoiceFilter(queryset=Control.objects.none(), to_field_name="ref",
                                               label="Control")
    status = django_filters.ChoiceFilter(choices=RequestStatus.choices, label="Status")
    period = django_filters.CharFilter(field_name="period_label", label="Period (e.g. 2026-Q1)")
    ordering = django_filters.OrderingFilter(
        fields=(("control__ref", "control"), ("period_end", "period"), ("due_on", "due_on"), ("status", "status"),
                ("owner_team__name", "team"), ("title", "title")),
    )

    class Meta:
        model = EvidenceRequest
        fields = ("control", "status", "period")

    def __init__(self, *args, audit, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["control"].queryset = audit.controls().order_by("ref")


class AuditRequestFilterSet(django_filters.FilterSet):
    stage = django_filters.ChoiceFilter(choices=STAGES, method="filter_stage", label="Stage")

    class Meta:
        model = AuditRequest
        fields = ("stage",)

    def filter_stage(self, queryset, name, value):
        return queryset.filter(STAGE_Q[value])


class AccessLogFilterSet(django_filters.FilterSet):
    user = django_filters.ModelChoiceFilter(queryset=User.objects.none(), label="Auditor")
    refused = django_filters.BooleanFilter(method="filter_refused", label="Refused only",
                                           widget=django_filters.widgets.BooleanWidget())

    class Meta:
        model = AuditorAccess
        fields = ("user", "refused")

    def __init__(self, *args, audit, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["user"].queryset = User.objects.filter(audit_assignments__audit=audit).order_by("username")

    def filter_refused(self, queryset, name, value):
        if value is None:
            return queryset
        refused = Q(status_code__in=REFUSED_CODES)
        return queryset.filter(refused) if value else queryset.exclude(refused)
