"""The audits REST API: engagements and their coverage, the PBC list (auditor requests) and
report jobs, with the portal's scoping.

Every row is filtered by ``soc2hub.permissions.restrict``; one outside the caller's scope
answers 404 (nothing is said about other audits), except for an auditor whose access to its
audit has ended, who gets 403 with that reason, as on the pages. Writes go through
``audits.services``, which check the permission again. External auditors are further kept
by ``audits.middleware`` to the routes ``permissions.AUDITOR_PAGES``/``AUDITOR_WRITES`` name,
and every request they make is logged there; these views tell it which audit a request was
about (``audit_id_for_log``).
"""


import django_filters
from django import forms
from django.db.models import Count, Prefetch
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response

from audits import filtersets, selectors, services
from audits.api.serializers import (
    MAX_ID,
    AcceptSerializer,
    AuditCommentSerializer,
    AuditorRequestDetailSerializer,
    AuditorRequestRaiseSerializer,
    AuditorRequestSerializer,
    AuditRefSerializer,
    AuditSerializer,
    AuditStatusSerializer,
    CommentSerializer,
    ReportJobSerializer,
    ReportRequestSerializer,
    ReturnSerializer,
)
from audits.coverage import audit_coverage
from audits.models import (
    Audit,
    AuditAuditor,
    AuditComment,
    AuditRequest,
    AuditRequestStatus,
    AuditStatus,
    AuditType,
    ReportJob,
    ReportKind,
    ReportStatus,
)
from evidence.models import Evidence, EvidenceFile, EvidenceStatus
from soc2hub import permissions
from soc2hub.downloads import report_attachment


def _as_id(value) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID else None


def _log_audit(request, audit_id) -> None:
    """Tell the auditor middleware which audit this request was about (see its ``_record``)."""
    if audit_id is not None:
        getattr(request, "_request", request).audit_id_for_log = audit_id


def _audit(request, pk):
    """The audit, as ``selectors.audit_for`` answers: 404 when it is not the caller's, 403 with
    the reason when their access to it has ended."""
    _log_audit(request, _as_id(pk))
    return selectors.audit_for(user=request.user, pk=pk)


def _audit_in_body(request, action: str):
    """The audit a POST names, checked before the rest of the body: someone refused learns
    nothing from the body's validation (as the pages check before showing their form)."""
    ref = AuditRefSerializer(data=request.data)
    ref.is_valid(raise_exception=True)
    audit = _audit(request, ref.validated_data["audit"])
    permissions.require(request.user, action, audit)
    return audit


class IdFilter(django_filters.Filter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class AuditRowObject:
    """``get_object`` for the rows of an audit (requests, reports): the usual scoped lookup,
    except that a row of an audit whose access has ended answers 403 with that reason. Any
    other row the caller may not see gets the same 404 as one that does not exist."""

    not_found = "Not found."

    def get_object(self):
        pk = _as_id(self.kwargs.get(self.lookup_field))
        audit_id = (self.get_queryset().model.objects.filter(pk=pk).values_list("audit_id", flat=True).first()
                    if pk is not None else None)
        _log_audit(self.request, audit_id)
        try:
            return super().get_object()
        except Http404:
            if audit_id is not None:
                try:
                    selectors.audit_for(user=self.request.user, pk=audit_id)  # 403 when their access ended
                except Http404:
                    pass
            raise Http404(self.not_found) from None

    def list(self, request, *args, **kwargs):
        _log_audit(request, _as_id(request.query_params.get("audit", "")))
        return super().list(request, *args, **kwargs)


# --- audits ----------------------------------------------------------------------------------

class AuditFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AuditStatus.choices)
    type = django_filters.ChoiceFilter(choices=AuditType.choices)

    class Meta:
        model = Audit
        fields = ["status", "type"]


class AuditViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Audits: Security and Leadership see every one, an auditor the audits they are on until
    their access ends. Security creates (POST) and edits (PATCH) them and moves their status
    (POST ``status``). ``coverage`` is the Type II coverage matrix."""

    serializer_class = AuditSerializer
    filterset_class = AuditFilterSet
    ordering_fields = ["created_at", "name"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    permission_actions = {"partial_update": permissions.CHANGE, "set_status": permissions.CHANGE}

    def get_queryset(self):
        auditors = AuditAuditor.objects.select_related("user").order_by("user__username")
        return selectors.audits_for(user=self.request.user).prefetch_related(
            Prefetch("assignments", queryset=auditors))

    def get_object(self):
        audit = _audit(self.request, self.kwargs["pk"])
        self.check_object_permissions(self.request, audit)
        return self.get_queryset().get(pk=audit.pk)

    def _respond(self, audit, status_code=status.HTTP_200_OK):
        return Response(self.get_serializer(self.get_queryset().get(pk=audit.pk)).data, status=status_code)

    def perform_create(self, serializer):
        audit = services.audit_create(actor=self.request.user, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=audit.pk)

    def perform_update(self, serializer):
        audit = services.audit_update(audit=serializer.instance, actor=self.request.user,
                                      **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=audit.pk)

    @extend_schema(request=AuditStatusSerializer, responses=AuditSerializer, summary="Move an audit's status")
    @action(detail=True, methods=["post"], url_path="status", url_name="status")
    def set_status(self, request, pk=None):
        audit = self.get_object()
        body = AuditStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.audit_set_status(audit=audit, actor=request.user, status=body.validated_data["status"])
        return self._respond(audit)

    @extend_schema(responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description=(
        "Per criterion in scope and each control mapped to it: the periods the window expects and "
        "whether approved evidence covers each (approved, in_progress, gap)."))},
        summary="The audit's coverage matrix")
    @action(detail=True, methods=["get"])
    def coverage(self, request, pk=None):
        audit = self.get_object()
        permissions.require(request.user, permissions.VIEW_COVERAGE, audit)
        return Response(audit_coverage(audit).as_dict())


# --- auditor requests ------------------------------------------------------------------------

class AuditRequestFilterSet(filtersets.AuditRequestFilterSet):
    """The PBC page's filters (``stage``), plus the audit and the request's own status."""

    audit = IdFilter(field_name="audit_id")
    status = django_filters.ChoiceFilter(choices=AuditRequestStatus.choices)

    class Meta(filtersets.AuditRequestFilterSet.Meta):
        fields = ["audit", "status", "stage"]


class AuditRequestViewSet(AuditRowObject, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    """The PBC list: auditors see their current audits' requests, the answering team the
    requests addressed to it, Security and Leadership all. An auditor of the audit (or
    Security) raises one (POST); its auditors ``accept`` or ``return`` the approved answer;
    the auditors, Security and the team ``comment``. Requests are never edited or deleted."""

    filterset_class = AuditRequestFilterSet
    ordering_fields = ["due_on", "number", "raised_at"]
    not_found = "No such auditor request."
    http_method_names = ["get", "post", "head", "options"]
    # Raising is decided per audit by the service (RAISE_REQUEST); anyone who may read requests may try.
    permission_actions = {"create": permissions.VIEW, "accept": permissions.DECIDE, "return_": permissions.DECIDE,
                          "comment": permissions.COMMENT}

    def get_queryset(self):
        rows = permissions.restrict(
            AuditRequest.objects.select_related("audit", "control", "criterion", "raised_by", "accepted_by",
                                                "evidence_request__owner_team")
            .annotate(comment_count=Count("comments")),
            self.request.user,
        ).order_by("audit_id", "-number")
        if self.action == "list":
            return rows
        approved = (Evidence.objects.filter(status=EvidenceStatus.APPROVED).order_by("reviewed_at", "id")
                    .prefetch_related(Prefetch("files", queryset=EvidenceFile.objects.order_by("id"))))
        return rows.prefetch_related(
            Prefetch("comments", queryset=AuditComment.objects.select_related("author")),
            Prefetch("evidence_request__submissions", queryset=approved, to_attr="approved_submissions"),
        )

    def get_serializer_class(self):
        return AuditorRequestSerializer if self.action == "list" else AuditorRequestDetailSerializer

    def _respond(self, audit_request, status_code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=audit_request.pk)
        return Response(AuditorRequestDetailSerializer(fresh, context=self.get_serializer_context()).data,
                        status=status_code)

    @extend_schema(request=AuditorRequestRaiseSerializer, responses={201: AuditorRequestDetailSerializer},
                   summary="Raise an auditor request")
    def create(self, request, *args, **kwargs):
        audit = _audit_in_body(request, permissions.RAISE_REQUEST)
        body = AuditorRequestRaiseSerializer(data=request.data, context={**self.get_serializer_context(),
                                                                         "audit": audit})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        del data["audit"]
        audit_request = services.audit_request_raise(audit=audit, actor=request.user, **data)
        response = self._respond(audit_request, status.HTTP_201_CREATED)
        response["Location"] = response.data["url"]
        return response

    @extend_schema(request=AcceptSerializer, responses=AuditorRequestDetailSerializer,
                   summary="Accept the approved answer (auditors)")
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        audit_request = self.get_object()
        body = AcceptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.audit_request_accept(audit_request=audit_request, actor=request.user,
                                      comment=body.validated_data["comment"])
        return self._respond(audit_request)

    @extend_schema(request=ReturnSerializer, responses=AuditorRequestDetailSerializer,
                   operation_id="audit_requests_return", summary="Return the answer to the team (auditors)")
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, pk=None):
        audit_request = self.get_object()
        body = ReturnSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.audit_request_return(audit_request=audit_request, actor=request.user,
                                      comment=body.validated_data["comment"])
        return self._respond(audit_request)

    @extend_schema(request=CommentSerializer, responses={201: AuditCommentSerializer}, summary="Comment")
    @action(detail=True, methods=["post"])
    def comment(self, request, pk=None):
        audit_request = self.get_object()
        body = CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        comment = services.audit_comment_add(audit_request=audit_request, actor=request.user,
                                             body=body.validated_data["body"])
        return Response(AuditCommentSerializer(comment).data, status=status.HTTP_201_CREATED)


# --- reports ---------------------------------------------------------------------------------

class ReportNotReady(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "report_not_ready"


class ReportFilterSet(django_filters.FilterSet):
    audit = IdFilter(field_name="audit_id")
    kind = django_filters.ChoiceFilter(choices=ReportKind.choices)
    status = django_filters.ChoiceFilter(choices=ReportStatus.choices)

    class Meta:
        model = ReportJob
        fields = ["audit", "kind", "status"]


class ReportViewSet(AuditRowObject, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Report jobs. POST queues one for an audit the caller may see (201, with the job's
    ``url`` to poll); GET it for status and progress; ``download`` streams the file when done."""

    serializer_class = ReportJobSerializer
    filterset_class = ReportFilterSet
    not_found = "No such report."
    ordering_fields = ["created_at"]
    http_method_names = ["get", "post", "head", "options"]
    # Requesting a report is decided per audit by the service (REPORT); whoever reads reports may try.
    permission_actions = {"create": permissions.VIEW, "download": permissions.DOWNLOAD}

    def get_queryset(self):
        action = permissions.DOWNLOAD if self.action == "download" else permissions.VIEW
        return permissions.restrict(ReportJob.objects.select_related("audit", "requested_by"), self.request.user,
                                    action)

    @extend_schema(request=ReportRequestSerializer, responses={201: ReportJobSerializer},
                   summary="Queue a report for an audit")
    def create(self, request, *args, **kwargs):
        audit = _audit_in_body(request, permissions.REPORT)
        body = ReportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.report_request(audit=audit, actor=request.user, kind=body.validated_data["kind"])
        data = self.get_serializer(self.get_queryset().get(pk=job.pk)).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["url"]})

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
                              409: OpenApiResponse(description="The report is not ready (queued, running or failed).")},
                   summary="Download a finished report")
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        job = self.get_object()
        if job.status != ReportStatus.DONE:
            detail = (f"This report failed: {job.message}" if job.status == ReportStatus.FAILED and job.message
                      else f"This report is {job.get_status_display().lower()} ({job.progress_percent}%); "
                           "poll it until it is ready.")
            raise ReportNotReady(detail)
        if not job.file or not job.file.storage.exists(job.file.name):
            raise NotFound("This report's file is no longer stored; request it again.")
        services.report_downloaded(job=job, user=request.user)
        return report_attachment(job, job.file.open("rb"))
