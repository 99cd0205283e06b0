"""The evidence REST API: the same selectors, services and permission checks as the pages."""

from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from evidence import selectors, services
from evidence.api.serializers import (
    EvidenceRequestSerializer,
    EvidenceReturnSerializer,
    EvidenceSerializer,
    EvidenceSubmitSerializer,
    EvidenceTemplateSerializer,
)
from evidence.filtersets import EvidenceFilterSet, EvidenceRequestFilterSet, EvidenceTemplateFilterSet
from evidence.models import Evidence, EvidenceFile, EvidenceStatus
from soc2hub import permissions
from soc2hub.api_errors import UploadTooLarge
from soc2hub.downloads import file_attachment


class EvidenceTemplateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                              mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Evidence standards: read by everyone signed in, written by Security (POST, PATCH)."""

    serializer_class = EvidenceTemplateSerializer
    filterset_class = EvidenceTemplateFilterSet
    ordering_fields = ["title", "control__ref", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.templates_for_list(user=self.request.user)

    def perform_create(self, serializer):
        template = services.template_create(actor=self.request.user, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=template.pk)

    def perform_update(self, serializer):
        template = services.template_update(template=serializer.instance, actor=self.request.user,
                                            **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=template.pk)


def _with_submission_summary(requests):
    latest = Evidence.objects.filter(request=OuterRef("pk")).order_by("-submitted_at", "-id")
    return requests.annotate(
        submission_count=Count("submissions"),
        pending_count=Count("submissions", filter=Q(submissions__status=EvidenceStatus.PENDING)),
        latest_submission_id=Subquery(latest.values("pk")[:1]),
        latest_submission_status=Subquery(latest.values("status")[:1]),
        latest_submitted_at=Subquery(latest.values("submitted_at")[:1]),
    )


class EvidenceRequestViewSet(viewsets.ReadOnlyModelViewSet):
    """Evidence requests the caller may see (owning team, reviewers, Security, Leadership).
    Filter by ``team`` (slug), ``status``, ``state`` (outstanding, due_soon, overdue),
    ``control`` (ref) and ``period`` (e.g. 2026-Q3); sort with ``ordering``."""

    serializer_class = EvidenceRequestSerializer
    filterset_class = EvidenceRequestFilterSet
    filter_backends = [DjangoFilterBackend]  # the filterset brings its own ``ordering``

    def get_queryset(self):
        return _with_submission_summary(selectors.requests_for_list(user=self.request.user))


class EvidenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    """Submissions to the requests the caller may see. POST submits (multipart); approve and
    reject are the review. There is no edit or delete: approved evidence is immutable."""

    serializer_class = EvidenceSerializer
    filterset_class = EvidenceFilterSet
    ordering_fields = ["submitted_at"]
    permission_actions = {
        "approve": permissions.REVIEW,
        "reject": permissions.REVIEW,
    }

    def get_queryset(self):
        files = EvidenceFile.objects.select_related("uploaded_by")
        return permissions.restrict(
            Evidence.objects.select_related("request__template", "submitted_by", "reviewed_by")
            .prefetch_related(Prefetch("files", queryset=files)),
            self.request.user,
        )

    def get_serializer_class(self):
        return {"create": EvidenceSubmitSerializer, "reject": EvidenceReturnSerializer}.get(
            self.action, EvidenceSerializer
        )

    def _stored(self, evidence, status_code=status.HTTP_200_OK):
        evidence = self.get_queryset().get(pk=evidence.pk)
        return Response(EvidenceSerializer(evidence, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(
        request={"multipart/form-data": EvidenceSubmitSerializer},
        responses={201: EvidenceSerializer,
                   413: OpenApiResponse(description="A file is over the upload limit; nothing was stored.")},
        summary="Submit evidence to a request",
    )
    def create(self, request, *args, **kwargs):
        data = request.data  # parsing runs the upload handlers, which stop an oversized file mid-stream
        refused = getattr(request, "upload_refused", None)  # see soc2hub.uploads
        if refused:
            raise UploadTooLarge(refused)
        serializer = self.get_serializer(data=data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        evidence = services.evidence_submit(request=data["request"], actor=request.user,
                                            files=request.FILES.getlist("files"), note=data["note"], link=data["link"])
        return self._stored(evidence, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: EvidenceSerializer}, operation_id="evidence_approve",
                   summary="Approve evidence")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        evidence = self.get_object()
        services.evidence_approve(evidence=evidence, reviewer=request.user)
        return self._stored(evidence)

    @extend_schema(request=EvidenceReturnSerializer, responses={200: EvidenceSerializer},
                   operation_id="evidence_reject", summary="Return evidence to the team with a reason")
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        evidence = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.evidence_return(evidence=evidence, reviewer=request.user,
                                 reason=serializer.validated_data["reason"])
        return self._stored(evidence)


class EvidenceFileViewSet(viewsets.GenericViewSet):
    """Downloads of uploaded files, checked like the download page and recorded in the log."""

    filter_backends = []
    permission_actions = {"download": permissions.DOWNLOAD}

    def get_queryset(self):
        return permissions.restrict(EvidenceFile.objects.select_related("evidence__request__template"),
                                    self.request.user, permissions.DOWNLOAD)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY)},
                   operation_id="evidence_files_download", summary="Download an evidence file")
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        evidence_file = self.get_object()
        services.evidence_file_downloaded(evidence_file=evidence_file, user=request.user)
        return file_attachment(evidence_file)
