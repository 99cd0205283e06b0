from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from controls.models import Control, Criterion
from exceptions import services
from exceptions.models import ExceptionRecord, ExceptionSignature, ExceptionStatus, ExceptionVersion, SignerRole
from soc2hub import permissions
from soc2hub.models import ActivityLog


def exceptions_for_list(*, user):
    return permissions.restrict(
        ExceptionRecord.objects.select_related("requesting_team", "business_owner"), user
    ).order_by("expires_on", "id")


# A version's author, without its content: enough to tell who is independent of an exception.
VERSION_AUTHORS = ExceptionVersion.objects.only("id", "exception_id", "version", "created_by_id")


def exceptions_for_register(*, user):
    """The register's rows with what its flags read: the signatures that stand (approved against
    Security's recommendation?) and who wrote each version (who is independent of it?)."""
    return exceptions_for_list(user=user).prefetch_related(
        Prefetch("signatures", queryset=ExceptionSignature.objects.filter(voided_at__isnull=True)),
        Prefetch("versions", queryset=VERSION_AUTHORS),
    )


def signer_labels(roles) -> list[str]:
    return [SignerRole(role).label for role in roles]


def mark_roles_without_signer(exceptions) -> None:
    """Set ``roles_without_signer`` (their labels) on each exception of a page, loading the
    signers once for the page (see ``services.roles_without_signer``)."""
    pool = services.SignerPool() if any(e.awaits_signatures for e in exceptions) else None
    for exception in exceptions:
        exception.roles_without_signer = (signer_labels(services.roles_without_signer(exception, pool))
                                          if pool else [])


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
