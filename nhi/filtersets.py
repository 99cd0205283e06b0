import django_filters
from django.db.models import Q

from nhi.models import Environment, NhiKind, NhiStatus, NonHumanIdentity
from soc2hub.models import Team

STATE_FLAGS = {
    "overdue": "is_rotation_overdue",
    "never_rotated": "is_never_rotated",
    "stale": "is_stale",
    "orphaned": "is_orphaned",
    "expiring": "is_expiring_soon",
}


class NhiFilterSet(django_filters.FilterSet):
    """Filters for the inventory, its CSV export and the API. The state flags filter on the
    SQL annotations of ``NonHumanIdentity.objects.with_state()``."""

    q = django_filters.CharFilter(method="filter_search", label="Search name or external id")
    kind = django_filters.ChoiceFilter(choices=NhiKind.choices)
    status = django_filters.ChoiceFilter(choices=NhiStatus.choices)
    environment = django_filters.ChoiceFilter(choices=Environment.choices)
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), to_field_name="slug",
                                            field_name="owner_team", label="Owner team")
    overdue = django_filters.BooleanFilter(method="filter_state", label="Rotation overdue")
    never_rotated = django_filters.BooleanFilter(method="filter_state", label="Never rotated")
    stale = django_filters.BooleanFilter(method="filter_state", label="Stale")
    orphaned = django_filters.BooleanFilter(method="filter_state", label="Orphaned")
    expiring = django_filters.BooleanFilter(method="filter_state", label="Expiring soon")
    admin = django_filters.BooleanFilter(field_name="has_admin_access", label="Admin access")
    ordering = django_filters.OrderingFilter(
        fields=(("name", "name"), ("kind", "kind"), ("last_rotated_on", "last_rotated"),
                ("last_used_on", "last_used"), ("expires_on", "expires"), ("owner_team__name", "team"),
                ("rotation_due_on", "rotation_due")),
    )

    class Meta:
        model = NonHumanIdentity
        fields = ["q", "kind", "status", "environment", "team", "overdue", "never_rotated", "stale", "orphaned",
                  "expiring", "admin"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(external_id__icontains=value))

    def filter_state(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(**{STATE_FLAGS[name]: value})
