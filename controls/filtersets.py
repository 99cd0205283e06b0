"""Filters shared by the pages and the API."""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from django.db.models import Q

from controls.models import OWNER_ROLES, Automation, Category, Control, ControlStatus, Criterion, Frequency
from soc2hub.models import Team

FLAG_CHOICES = [("unassigned", "Unassigned owner"), ("security_only", "Security-only")]


class OwnershipFilterMixin(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(), to_field_name="slug", method="filter_team", label="Owning team"
    )
    flag = django_filters.ChoiceFilter(choices=FLAG_CHOICES, method="filter_flag", label="Flag")

    @extend_schema_field(OpenApiTypes.STR)
    def filter_team(self, queryset, name, team):
        q = Q()
        for role in OWNER_ROLES:
            q |= Q(**{role: team})
        return queryset.filter(q)

    def filter_flag(self, queryset, name, value):
        return queryset.filter(**{f"is_{value}": True})


class CriterionFilterSet(OwnershipFilterMixin):
    category = django_filters.ChoiceFilter(choices=Category.choices)

    class Meta:
        model = Criterion
        fields = ["category", "team", "flag"]


class ControlFilterSet(OwnershipFilterMixin):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    category = django_filters.ChoiceFilter(
        choices=Category.choices, method="filter_category", label="Category"
    )
    criterion = django_filters.ModelChoiceFilter(
        queryset=Criterion.objects.all(), to_field_name="code", field_name="criteria", label="Criterion"
    )
    status = django_filters.ChoiceFilter(choices=ControlStatus.choices)
    frequency = django_filters.ChoiceFilter(choices=Frequency.choices)
    automation = django_filters.ChoiceFilter(choices=Automation.choices)
    ordering = django_filters.OrderingFilter(
        fields=(("ref", "ref"), ("name", "name"), ("status", "status"), ("frequency", "frequency"),
                ("control_owner__name", "control_owner")),
    )

    class Meta:
        model = Control
        fields = ["q", "category", "criterion", "team", "status", "frequency", "automation", "flag"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(ref__icontains=value) | Q(name__icontains=value) | Q(description__icontains=value))

    def filter_category(self, queryset, name, value):
        return queryset.filter(pk__in=Control.objects.filter(criteria__category=value).values("pk"))
