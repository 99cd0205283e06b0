"""What the audits API reads and accepts. Serializers check the shape of a request; the rules
(scope, dates, who may) are the services' and ``soc2hub.permissions``'."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from audits.models import (
    Audit,
    AuditAuditor,
    AuditComment,
    AuditRequest,
    AuditStatus,
    ReportJob,
    ReportKind,
    ReportStatus,
)
from controls.models import Category, Control, Criterion
from evidence.models import EvidenceFile
from soc2hub import permissions

MAX_DESCRIPTION = 10_000
MAX_COMMENT = 5_000  # as audits.services.audit_comment_add
MAX_ID = 2**31 - 1


def _url(serializer, name: str, pk) -> str:
    return reverse(name, args=[pk], request=serializer.context.get("request"))


# --- audits ----------------------------------------------------------------------------------

class AuditAssignmentSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = AuditAuditor
        fields = ["username", "access_ends_on", "is_current"]
        read_only_fields = fields

    def get_is_current(self, obj) -> bool:
        return obj.is_current()


class AuditCountsSerializer(serializers.Serializer):
    """From the annotations of ``audits.selectors.audits_for``."""

    requests = serializers.IntegerField(source="request_count")
    open_requests = serializers.IntegerField(source="open_request_count")


class AuditSerializer(serializers.ModelSerializer):
    """An engagement. Security writes it (POST, PATCH); the window follows the type: a Type I
    audit needs ``as_of``, a Type II audit ``period_start`` and ``period_end``. ``auditors``
    is shown to Security and Leadership only: an audit firm does not read who else audits."""

    categories = serializers.ListField(child=serializers.ChoiceField(choices=Category.choices), required=False,
                                       max_length=len(Category.choices),
                                       help_text="Trust services categories in scope; Security always is.")
    window_start = serializers.DateField(read_only=True)
    window_end = serializers.DateField(read_only=True)
    auditors = AuditAssignmentSerializer(source="assignments", many=True, read_only=True)
    counts = AuditCountsSerializer(source="*", read_only=True)
    url = serializers.SerializerMethodField()
    coverage_url = serializers.SerializerMethodField()

    class Meta:
        model = Audit
        fields = ["id", "url", "name", "firm", "type", "as_of", "period_start", "period_end", "window_start",
                  "window_end", "categories", "status", "auditors", "counts", "coverage_url", "created_at",
                  "updated_at"]
        read_only_fields = ["status", "created_at", "updated_at"]
        extra_kwargs = {"name": {"max_length": 200}, "firm": {"max_length": 200}}

    def get_url(self, obj) -> str:
        return _url(self, "audit-detail", obj.pk)

    def get_coverage_url(self, obj) -> str:
        return _url(self, "audit-coverage", obj.pk)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        user = getattr(self.context.get("request"), "user", None)
        if not (user and (user.is_security or user.is_leadership)):
            data.pop("auditors", None)
        return data


class AuditStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AuditStatus.choices)


# --- auditor requests ------------------------------------------------------------------------

class AuditCommentSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AuditComment
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = fields


class ApprovedFileSerializer(serializers.ModelSerializer):
    """An approved evidence file answering the request. ``download_url`` is the audit portal's
    link for whoever sees the audit (the download is filed under the audit in the auditor access
    log), the evidence page's link for the answering team; both check and log the download."""

    name = serializers.CharField(source="original_name", read_only=True)
    evidence = serializers.IntegerField(source="evidence_id", read_only=True)
    approved_at = serializers.DateTimeField(source="evidence.reviewed_at", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = EvidenceFile
        fields = ["id", "evidence", "name", "size", "sha256", "content_type", "uploaded_at", "approved_at",
                  "download_url"]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        audit_id = self.context.get("portal_audit_id")
        if audit_id is not None:
            return reverse("audits:file_download", args=[audit_id, obj.pk], request=self.context.get("request"))
        return _url(self, "evidence:file_download", obj.pk)


class AuditorRequestSerializer(serializers.ModelSerializer):
    """An item on the PBC list, as the list shows it."""

    reference = serializers.CharField(read_only=True)
    control = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    criterion = serializers.SlugRelatedField(slug_field="code", read_only=True)
    stage = serializers.CharField(read_only=True)
    stage_label = serializers.CharField(source="get_stage_display", read_only=True)
    answering_team = serializers.SlugRelatedField(source="evidence_request.owner_team", slug_field="slug",
                                                  read_only=True)
    raised_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    accepted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    comment_count = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = AuditRequest
        fields = ["id", "url", "audit", "reference", "number", "title", "description", "control", "criterion",
                  "due_on", "status", "stage", "stage_label", "answering_team", "evidence_request", "raised_by",
                  "raised_at", "accepted_by", "accepted_at", "comment_count"]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return _url(self, "auditrequest-detail", obj.pk)


class AuditorRequestDetailSerializer(AuditorRequestSerializer):
    """One request with its approved evidence files and its comments."""

    files = serializers.SerializerMethodField()
    comments = AuditCommentSerializer(many=True, read_only=True)

    class Meta(AuditorRequestSerializer.Meta):
        fields = [*AuditorRequestSerializer.Meta.fields, "files", "comments"]
        read_only_fields = fields

    @extend_schema_field(ApprovedFileSerializer(many=True))
    def get_files(self, obj) -> list[dict]:
        # ``approved_submissions``: prefetched by the view (approved evidence only, with its files).
        files = [f for evidence in obj.evidence_request.approved_submissions for f in evidence.files.all()]
        user = getattr(self.context.get("request"), "user", None)
        portal = permissions.can(user, permissions.VIEW, obj.audit)
        context = {**self.context, "portal_audit_id": obj.audit_id if portal else None}
        return ApprovedFileSerializer(files, many=True, context=context).data


class AuditRefSerializer(serializers.Serializer):
    """The audit a POST is about, read first (see ``audits.api.views._audit_in_body``)."""

    audit = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The audit's id.")


class InAuditScopeField(serializers.SlugRelatedField):
    """A control or criterion of the audit in the serializer's context (``audit.controls()`` or
    ``audit.criteria()``). An auditor sees the programme only through their audit: a row outside
    its scope is refused exactly as one that does not exist."""

    def __init__(self, *, scope: str, **kwargs):
        self.scope = scope
        super().__init__(queryset=Control.objects.none() if scope == "controls" else Criterion.objects.none(),
                         required=False, allow_null=True, **kwargs)

    def get_queryset(self):
        audit = self.context.get("audit")
        return getattr(audit, self.scope)() if audit is not None else super().get_queryset()


class AuditorRequestRaiseSerializer(AuditRefSerializer):
    """Raise a request: the audit, what is needed, the control (by ref) or, failing one, the
    criterion (by code) it is about, and when it is due. The control's evidence owner team
    answers it. Give the audit in the context (``{"audit": audit}``)."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=MAX_DESCRIPTION)
    control = InAuditScopeField(slug_field="ref", scope="controls",
                                error_messages={"does_not_exist": "No control {value} in this audit's scope."})
    criterion = InAuditScopeField(slug_field="code", scope="criteria",
                                  error_messages={"does_not_exist": "No criterion {value} in this audit's scope."})
    due_on = serializers.DateField()


class AcceptSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=MAX_COMMENT, required=False, allow_blank=True, default="")


class ReturnSerializer(serializers.Serializer):
    comment = serializers.CharField(
        max_length=MAX_COMMENT,
        error_messages={"required": "Say what is missing, so the team can answer it.",
                        "blank": "Say what is missing, so the team can answer it."},
    )


class CommentSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_COMMENT,
                                 error_messages={"required": "Write a comment first.",
                                                 "blank": "Write a comment first."})


# --- reports ---------------------------------------------------------------------------------

class ReportJobSerializer(serializers.ModelSerializer):
    """A report job: poll ``url`` until ``status`` is ``done`` (or ``failed``), then follow
    ``download_url``."""

    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    progress_percent = serializers.IntegerField(read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ReportJob
        fields = ["id", "url", "audit", "kind", "kind_label", "status", "progress_done", "progress_total",
                  "progress_percent", "message", "size", "sha256", "requested_by", "created_at", "started_at",
                  "finished_at", "download_url"]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return _url(self, "report-detail", obj.pk)

    def get_download_url(self, obj) -> str | None:
        if obj.status != ReportStatus.DONE:
            return None
        return _url(self, "report-download", obj.pk)


class ReportRequestSerializer(AuditRefSerializer):
    kind = serializers.ChoiceField(
        choices=ReportKind.choices,
        error_messages={"invalid_choice": f"Choose one of: {', '.join(ReportKind.values)}."},
    )

