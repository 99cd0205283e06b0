from rest_framework import serializers

from controls.models import Control
from nhi.models import (
    OWASP_NHI_TAGS,
    AttestationCampaign,
    AttestationItem,
    Environment,
    ImportFormat,
    NhiImport,
    NhiKind,
    NonHumanIdentity,
    RotationRecord,
)
from evidence.models import EvidenceRequest
from soc2hub.models import Team
from soc2hub.pickers import (
    UsernameField,
    VisiblePrimaryKeyRelatedField,
    VisibleSlugRelatedField,
    choose_member_message,
    member_named,
)


def _technical_owner(attrs: dict, team: Team | None, *, keep=None) -> dict:
    """Turn the ``technical_owner`` username into the person: an active member of ``team``
    (``keep``, the one on record, may stay). One answer for anyone else, known or not."""
    username = attrs.get("technical_owner")
    if username is not None:
        person = member_named(team, username, keep=keep)
        if person is None:
            raise serializers.ValidationError({"technical_owner": [choose_member_message(team)]})
        attrs["technical_owner"] = person
    return attrs


class NhiSerializer(serializers.ModelSerializer):
    owner_team = VisibleSlugRelatedField(slug_field="slug", queryset=Team.objects.all(), allow_null=True,
                                         required=False)
    technical_owner = UsernameField(help_text="Username of an active member of the owner team.")
    controls = VisibleSlugRelatedField(slug_field="ref", queryset=Control.objects.all(), many=True,
                                       required=False)
    owasp_tags = serializers.ListField(child=serializers.ChoiceField(choices=[t for t, _ in OWASP_NHI_TAGS]),
                                       required=False)
    is_rotation_overdue = serializers.BooleanField(read_only=True)
    is_never_rotated = serializers.BooleanField(read_only=True)
    is_stale = serializers.BooleanField(read_only=True)
    is_orphaned = serializers.BooleanField(read_only=True)
    is_expiring_soon = serializers.BooleanField(read_only=True)

    class Meta:
        model = NonHumanIdentity
        fields = ["id", "name", "kind", "provider", "environment", "source", "external_id", "owner_team",
                  "technical_owner", "purpose", "scopes", "has_admin_access", "has_production_access", "vendor",
                  "secret_location", "credential_fingerprint", "created_on", "last_used_on", "last_rotated_on",
                  "rotation_interval_days", "rotation_due_on", "rotation_required", "transfer_required",
                  "expires_on", "status", "controls", "owasp_tags", "is_rotation_overdue", "is_never_rotated",
                  "is_stale", "is_orphaned", "is_expiring_soon", "created_at", "updated_at"]
        read_only_fields = ["source", "rotation_due_on", "rotation_required", "transfer_required", "status",
                            "created_at", "updated_at"]

    def validate(self, attrs):
        if self.instance is not None:  # the owner team changes only by a transfer
            return _technical_owner(attrs, self.instance.owner_team, keep=self.instance.technical_owner)
        return _technical_owner(attrs, attrs.get("owner_team"))


class RotateSerializer(serializers.Serializer):
    rotated_on = serializers.DateField(required=False)
    evidence_link = serializers.URLField(required=False, allow_blank=True, max_length=1000)
    evidence_file = serializers.FileField(required=False)
    new_fingerprint = serializers.CharField(required=False, allow_blank=True, max_length=100)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    evidence_link = serializers.URLField(required=False, allow_blank=True, max_length=1000)
    decommission = serializers.BooleanField(required=False, default=False)


class TransferSerializer(serializers.Serializer):
    team = VisibleSlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    technical_owner = UsernameField(help_text="Username of an active member of the new team.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def validate(self, attrs):
        return _technical_owner(attrs, attrs["team"])


class RotationRecordSerializer(serializers.ModelSerializer):
    rotated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = RotationRecord
        fields = ["rotated_on", "rotated_by", "evidence_link", "evidence_sha256", "new_fingerprint", "note",
                  "recorded_at"]


class AttestationItemSerializer(serializers.ModelSerializer):
    nhi = serializers.PrimaryKeyRelatedField(read_only=True)
    nhi_name = serializers.CharField(source="nhi.name", read_only=True)
    owner_team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AttestationItem
        fields = ["id", "nhi", "nhi_name", "owner_team", "decision", "scopes_confirmed", "comment", "decided_by",
                  "decided_at"]


class CampaignSerializer(serializers.ModelSerializer):
    teams = VisibleSlugRelatedField(slug_field="slug", queryset=Team.objects.all(), many=True, required=False)
    evidence_request = VisiblePrimaryKeyRelatedField(queryset=EvidenceRequest.objects.all(), allow_null=True,
                                                     required=False)
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=NhiKind.choices), required=False)
    environments = serializers.ListField(child=serializers.ChoiceField(choices=Environment.choices), required=False)
    item_count = serializers.IntegerField(read_only=True)
    pending_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = AttestationCampaign
        fields = ["id", "name", "due_on", "kinds", "teams", "environments", "evidence_request", "status",
                  "item_count", "pending_count", "created_at", "closed_at", "result_sha256"]
        read_only_fields = ["status", "created_at", "closed_at", "result_sha256"]


class AttestSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    decision = serializers.ChoiceField(choices=[("keep", "Still needed"), ("revoke", "Revoke it")])
    scopes_confirmed = serializers.BooleanField(default=False)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class NhiImportSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    default_team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = NhiImport
        fields = ["id", "format", "original_name", "sha256", "status", "total_rows", "processed_rows",
                  "progress_percent", "new_count", "updated_count", "unchanged_count", "error_count", "preview",
                  "message", "default_team", "apply_when_clean", "created_by", "created_at", "applied_at"]
        read_only_fields = fields


class NhiImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=ImportFormat.choices)
    dry_run = serializers.BooleanField(default=True, help_text="true: check and preview only. false: apply "
                                                               "straight after the check if no row has an error.")
    default_team = VisibleSlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False,
                                           allow_null=True)
    default_environment = serializers.ChoiceField(choices=Environment.choices, default=Environment.PRODUCTION)
