from django.contrib.auth.models import Group
from rest_framework import serializers
from rest_framework.reverse import reverse

from controls.models import Control
from evidence import selectors
from evidence.models import (
    Cadence,
    Evidence,
    EvidenceFile,
    EvidenceRequest,
    EvidenceStatus,
    EvidenceTemplate,
)
from soc2hub.models import Team
from soc2hub.pickers import VisibleSlugRelatedField


class EvidenceTemplateSerializer(serializers.ModelSerializer):
    """An evidence standard. Control by ref, owning team by slug (omit it to use the control's
    evidence owner), reviewing group by name (Security when omitted)."""

    control = VisibleSlugRelatedField(slug_field="ref", queryset=Control.objects.all())
    owner_team = VisibleSlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False)
    # Role groups are not hidden from anyone who may write a standard (Security).
    reviewer_group = serializers.SlugRelatedField(slug_field="name", queryset=Group.objects.all(), required=False)

    class Meta:
        model = EvidenceTemplate
        fields = [
            "id", "control", "title", "instructions", "acceptance_criteria", "cadence", "owner_team",
            "opens_days_after_period_end", "due_days_after_period_end", "reviewer_group", "starts_on",
            "one_off_period_end", "is_active", "created_at",
        ]
        read_only_fields = ["created_at"]


class SubmissionSummarySerializer(serializers.Serializer):
    """What has been submitted to a request, from annotations (see ``EvidenceRequestViewSet``)."""

    count = serializers.IntegerField(source="submission_count")
    pending = serializers.IntegerField(source="pending_count")
    latest_id = serializers.IntegerField(source="latest_submission_id", allow_null=True)
    latest_status = serializers.ChoiceField(source="latest_submission_status", choices=EvidenceStatus.choices,
                                            allow_null=True)
    latest_submitted_at = serializers.DateTimeField(allow_null=True)


class EvidenceRequestSerializer(serializers.ModelSerializer):
    control = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    owner_team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    cadence = serializers.ChoiceField(choices=Cadence.choices, read_only=True)
    instructions = serializers.CharField(read_only=True)
    acceptance_criteria = serializers.CharField(read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)
    submissions = SubmissionSummarySerializer(source="*", read_only=True)

    class Meta:
        model = EvidenceRequest
        fields = [
            "id", "title", "template", "control", "owner_team", "cadence", "instructions", "acceptance_criteria",
            "period_label", "period_start", "period_end", "opens_on", "due_on", "status", "is_overdue",
            "submissions", "created_at", "updated_at",
        ]
        read_only_fields = fields


class EvidenceFileSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = EvidenceFile
        fields = ["id", "name", "size", "sha256", "content_type", "uploaded_by", "uploaded_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        return reverse("evidencefile-download", args=[obj.pk], request=self.context.get("request"))


class EvidenceSerializer(serializers.ModelSerializer):
    """A submission as stored. Evidence is never edited through the API: a correction is a new
    submission, and approved evidence is immutable."""

    request_title = serializers.CharField(source="request.title", read_only=True)
    submitted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reviewed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    files = EvidenceFileSerializer(many=True, read_only=True)

    class Meta:
        model = Evidence
        fields = [
            "id", "request", "request_title", "status", "note", "link", "files", "submitted_by", "submitted_at",
            "reviewed_by", "reviewed_at", "review_reason",
        ]
        read_only_fields = fields


class VisibleRequestField(serializers.PrimaryKeyRelatedField):
    """A request id, looked up among the requests the caller may see: an id that does not
    exist and one the caller may not see get the same answer, so ids reveal nothing."""

    default_error_messages = {"does_not_exist": "No evidence request with id {pk_value}."}

    def __init__(self, **kwargs):
        super().__init__(queryset=EvidenceRequest.objects.all(), **kwargs)

    def get_queryset(self):
        return selectors.requests_for_list(user=self.context["request"].user)


class EvidenceSubmitSerializer(serializers.Serializer):
    """A submission: one or more files (repeat the ``files`` part) and/or a link, with a note.
    The files are checked by the same service as the upload page (type sniffed from the bytes,
    size limit, safe name, SHA-256)."""

    request = VisibleRequestField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    link = serializers.URLField(required=False, allow_blank=True, max_length=1000, default="")
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False), required=False, default=list,
        help_text="Zero or more files; send the part once per file.",
    )


class EvidenceReturnSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=5000,
        error_messages={"required": "Give a reason, so the team knows what to fix.",
                        "blank": "Give a reason, so the team knows what to fix."},
    )
