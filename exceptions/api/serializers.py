from rest_framework import serializers

from controls.models import Control, Criterion
from exceptions.models import (
    ExceptionRecord,
    ExceptionSignature,
    ExceptionVersion,
    Recommendation,
    SignatureDecision,
)
from nhi.models import NonHumanIdentity
from soc2hub import permissions
from soc2hub.models import Team


class VisibleRelatedField:
    """Only rows the caller may see (``permissions.restrict``) can be named, and any other value
    is refused with one message, whether the row does not exist or is not theirs to see."""

    not_found = "No such row."

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {}).update(
            {key: self.not_found for key in ("does_not_exist", "incorrect_type", "invalid")})
        super().__init__(**kwargs)

    def get_queryset(self):
        return permissions.restrict(super().get_queryset(), self.context["request"].user)


class VisibleControlField(VisibleRelatedField, serializers.SlugRelatedField):
    not_found = "No such control."


class VisibleNhiField(VisibleRelatedField, serializers.PrimaryKeyRelatedField):
    not_found = "No such identity."


class SignatureSerializer(serializers.ModelSerializer):
    signer = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ExceptionSignature
        fields = ["version", "role", "signer", "typed_name", "decision", "comment", "ip_address", "content_sha256",
                  "security_recommendation", "signed_at", "voided_at", "void_reason"]


class VersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExceptionVersion
        fields = ["version", "content", "content_sha256", "created_at"]


class ExceptionSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    requesting_team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    business_owner = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    controls = VisibleControlField(slug_field="ref", queryset=Control.objects.all(), many=True, required=False)
    criteria = serializers.SlugRelatedField(slug_field="code", queryset=Criterion.objects.all(), many=True,
                                            required=False)
    nhis = VisibleNhiField(queryset=NonHumanIdentity.objects.all(), many=True, required=False)
    risk_score = serializers.IntegerField(read_only=True)
    risk_level = serializers.CharField(read_only=True)
    content_sha256 = serializers.CharField(read_only=True)
    approved_against_security = serializers.BooleanField(
        read_only=True, help_text="Every required signer approved this version, at least one although Security "
                                  "recommended rejecting it.")
    signatures = SignatureSerializer(many=True, read_only=True)
    versions = VersionSerializer(many=True, read_only=True)

    class Meta:
        model = ExceptionRecord
        fields = ["id", "reference", "type", "title", "description", "justification", "likelihood", "impact",
                  "risk_score", "risk_level", "compensating_controls", "requesting_team", "business_owner",
                  "controls", "criteria", "nhis", "expires_on", "status", "version", "content_sha256", "recommendation",
                  "recommendation_note", "approved_against_security", "closing_reason", "signatures", "versions",
                  "created_at", "updated_at"]
        read_only_fields = ["status", "version", "recommendation", "recommendation_note", "closing_reason",
                            "created_at", "updated_at"]


class ReviewSerializer(serializers.Serializer):
    recommendation = serializers.ChoiceField(choices=Recommendation.choices)
    note = serializers.CharField(max_length=5000)


class SignSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=SignatureDecision.choices)
    typed_name = serializers.CharField(max_length=200)
    password = serializers.CharField(max_length=200, write_only=True, required=False, allow_blank=True,
                                     style={"input_type": "password"},
                                     help_text="Your password (people who sign in only through single sign-on have none).")
    otp_code = serializers.CharField(max_length=64, write_only=True,
                                     help_text="A current code from your authenticator app, or an unused recovery code.")
    content_sha256 = serializers.CharField(max_length=64, help_text="The content_sha256 you read; a stale one is refused.")
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
