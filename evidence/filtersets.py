import django_filters
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from controls.models import Control
from evidence.models import (
    AWAITING_TEAM,
    Cadence,
    Evidence,
    EvidenceRequest,
    EvidenceStatus,
    EvidenceTemplate,
    RequestStatus,
)
from soc2hub import permissions
from soc2hub.models import Team

STATE_CHOICES = [
    ("outstanding", "Outstanding (open or returned)"),
    ("due_soon", "Due soon"),
    ("overdue", "Overdue"),
]


class EvidenceRequestFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), to_field_name="slug",
                                            field_name="owner_team", label="Team")
    status = django_filters.ChoiceFilter(choices=RequestStatus.choices)
    state = django_filters.ChoiceFilter(choices=STATE_CHOICES, method="filter_state", label="State")
    control = django_filters.ModelChoiceFilter(queryset=Control.objects.all(), to_field_name="ref",
                                               label="Control")
    period = django_filters.CharFilter(field_name="period_label", label="Period (e.g. 2026-Q3)")
    ordering = django_filters.OrderingFilter(
        fields=(("due_on", "due_on"), ("period_start", "period"), ("status", "status"), ("title", "title"),
                ("owner_team__name", "team")),
    )

    class Meta:
        model = EvidenceRequest
        fields = ["q", "team", "status", "state", "control", "period"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(title__icontains=value) | Q(control__ref__icontains=value))

    def filter_state(self, queryset, name, value):
        today = timezone.localdate()
        if value == "overdue":
            return queryset.overdue(today)
        if value == "due_soon":
            return queryset.due_soon(today, days=settings.EVIDENCE_DUE_SOON_DAYS)
        return queryset.filter(status__in=AWAITING_TEAM)


class EvidenceTemplateFilterSet(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), to_field_name="slug",
                                            field_name="owner_team", label="Team")
    control = django_filters.ModelChoiceFilter(queryset=Control.objects.all(), to_field_name="ref")
    cadence = django_filters.ChoiceFilter(choices=Cadence.choices)

    class Meta:
        model = EvidenceTemplate
        fields = ["team", "control", "cadence", "is_active"]


def _visible_requests(request):
    return permissions.restrict(EvidenceRequest.objects.all(), getattr(request, "user", None))


class EvidenceFilterSet(django_filters.FilterSet):
    """Submissions by ``request`` (id) and ``status``. The request is looked up among those the
    caller may see: one they may not is refused exactly as one that does not exist."""

    request = django_filters.ModelChoiceFilter(queryset=_visible_requests)
    status = django_filters.ChoiceFilter(choices=EvidenceStatus.choices)

    class Meta:
        model = Evidence
        fields = ["request", "status"]
