"""The REST API's router, and the organisation endpoints (teams, activity log, daily job runs)."""

from urllib.parse import urlsplit

from django.urls import Resolver404, include, path, resolve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import routers, serializers, viewsets

from audits.api.views import AuditRequestViewSet, AuditViewSet, ReportViewSet
from controls.api.serializers import TeamSerializer
from controls.api.views import ControlViewSet, CriterionViewSet
from evidence.api.views import EvidenceFileViewSet, EvidenceRequestViewSet, EvidenceTemplateViewSet, EvidenceViewSet
from exceptions.api.views import ExceptionViewSet
from nhi.api.views import AttestationCampaignViewSet, NhiImportViewSet, NhiViewSet
from soc2hub import permissions
from soc2hub.models import ActivityLog, JobRun, Team


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TeamSerializer
    lookup_field = "slug"
    filterset_fields = ["function"]
    ordering_fields = ["name"]

    def get_queryset(self):
        return permissions.restrict(Team.objects.select_related("lead"), self.request.user)


class ActivityLogSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    object_type = serializers.SerializerMethodField()

    class Meta:
        model = ActivityLog
        fields = ["id", "created_at", "actor", "verb", "object_type", "object_id", "object_repr", "before", "after",
                  "message"]

    def get_object_type(self, obj) -> str | None:
        return obj.content_type.model if obj.content_type_id else None


class ActivityLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The append-only activity log (Security and Leadership). There is no write method."""

    serializer_class = ActivityLogSerializer
    filterset_fields = ["verb", "object_id"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return permissions.restrict(ActivityLog.objects.select_related("actor", "content_type"), self.request.user)


class JobRunSerializer(serializers.ModelSerializer):
    seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = JobRun
        fields = ["id", "job", "day", "status", "attempts", "started_at", "finished_at", "heartbeat_at", "seconds",
                  "result", "error", "alerted_at"]


class JobRunViewSet(viewsets.ReadOnlyModelViewSet):
    """The daily jobs' runs, one per job and day, with their figures and errors (Security)."""

    serializer_class = JobRunSerializer
    filterset_fields = ["job", "day", "status"]
    ordering_fields = ["day", "started_at"]

    def get_queryset(self):
        return permissions.restrict(JobRun.objects.order_by("-day", "job"), self.request.user)


class ApiRootView(routers.APIRootView):
    """The API's index: the endpoints whose list the caller may open, nothing they may not
    (an external auditor sees their audits, requests and reports)."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response.data = {name: url for name, url in response.data.items() if _may_list(request, name, url)}
        return response


def _may_list(request, prefix: str, url: str) -> bool:
    """Would ``GET /api/v1/<prefix>/`` let this caller in? The same permission classes the
    list runs, and for an external auditor the portal's guard (``permissions.auditor_may``)."""
    viewset_class = next(viewset for registered, viewset, _ in router.registry if registered == prefix)
    viewset = viewset_class(request=request, args=(), kwargs={}, format_kwarg=None, action="list")
    if not all(permission.has_permission(request, viewset) for permission in viewset.get_permissions()):
        return False
    if request.user.is_external_auditor:
        try:
            match = resolve(urlsplit(url).path)
        except Resolver404:
            return False
        return bool(permissions.auditor_may(match, "GET"))
    return True


class Router(routers.DefaultRouter):
    APIRootView = ApiRootView
    # No ``/teams.json/``-style duplicates of every route: ``?format=`` and Accept choose the
    # format, and custom actions need not each take a ``format`` argument (they 500 without it).
    include_format_suffixes = False


router = Router()
router.register("teams", TeamViewSet, basename="team")
router.register("criteria", CriterionViewSet, basename="criterion")
router.register("controls", ControlViewSet, basename="control")
router.register("activity", ActivityLogViewSet, basename="activity")
router.register("job-runs", JobRunViewSet, basename="jobrun")
router.register("exceptions", ExceptionViewSet, basename="exception")
router.register("nhis", NhiViewSet, basename="nhi")
router.register("nhi-imports", NhiImportViewSet, basename="nhiimport")
router.register("attestation-campaigns", AttestationCampaignViewSet, basename="attestationcampaign")
router.register("evidence-templates", EvidenceTemplateViewSet, basename="evidencetemplate")
router.register("evidence-requests", EvidenceRequestViewSet, basename="evidencerequest")
router.register("evidence", EvidenceViewSet, basename="evidence")
router.register("evidence-files", EvidenceFileViewSet, basename="evidencefile")
router.register("audits", AuditViewSet, basename="audit")
router.register("audit-requests", AuditRequestViewSet, basename="auditrequest")
router.register("reports", ReportViewSet, basename="report")

urlpatterns = [
    path("", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, not inline (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
