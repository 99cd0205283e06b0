import django_filters
from django.utils import timezone

from exceptions.models import ExceptionRecord, ExceptionStatus, ExceptionType
from soc2hub.models import Team


class ExceptionFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    status = django_filters.ChoiceFilter(choices=ExceptionStatus.choices)
    type = django_filters.ChoiceFilter(choices=ExceptionType.choices)
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), to_field_name="slug",
                                            field_name="requesting_team", label="Requesting team")
    expiring_within = django_filters.NumberFilter(method="filter_expiring", label="Expiring within (days)",
                                                  min_value=0, max_value=3650)
    ordering = django_filters.OrderingFilter(
        fields=(("expires_on", "expires_on"), ("created_at", "created"), ("status", "status"), ("title", "title")),
    )

    class Meta:
        model = ExceptionRecord
        fields = ["q", "status", "type", "team", "expiring_within"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(title__icontains=value) if value else queryset

    def filter_expiring(self, queryset, name, value):
        today = timezone.localdate()
        return queryset.filter(status=ExceptionStatus.APPROVED, expires_on__gte=today,
                               expires_on__lte=today + timezone.timedelta(days=int(value)))
