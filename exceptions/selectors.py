from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from controls.models import Control, Criterion
from exceptions.models import ExceptionRecord, ExceptionSignature, ExceptionStatus
from soc2hub import permissions
from soc2hub.models import ActivityLog


def exceptions_for_list(*, user):
    return permissions.restrict(
        ExceptionRecord.objects.select_related("requesting_team", "business_owner"), user
    ).order_by("expires_on", "id")


def exception_counts(*, user) -> dict:
    today = timezone.localdate()
    return permissions.restrict(ExceptionRecord.objects.all(), user).aggregate(
        expiring=Count("pk", filter=Q(status=ExceptionStatus.APPROVED, expires_on__gte=today,
                                      expires_on__lte=today + timezone.timedelta(days=30))),
        approved=Count("pk", filter=Q(status=ExceptionStatus.APPROVED)),
        awaiting=Count("pk", filter=Q(status__in=[ExceptionStatus.SUBMITTED, ExceptionStatus.UNDER_REVIEW])),
        expired=Count("pk", filter=Q(status=ExceptionStatus.EXPIRED)),
        total=Count("pk"),
    )


def exception_detail(*, user, pk: int) -> ExceptionRecord:
    return exceptions_for_list(user=user).select_related("recommended_by", "created_by").prefetch_related(
        Prefetch("controls", queryset=Control.objects.order_by("ref")),
        Prefetch("criteria", queryset=Criterion.objects.order_by("sort_order")),
        "nhis",
        Prefetch("signatures", queryset=ExceptionSignature.objects.select_related("signer")),
        "versions",
    ).get(pk=pk)


def exception_history(exception):
    return ActivityLog.objects.for_object(exception).select_related("actor").order_by("created_at", "id")
