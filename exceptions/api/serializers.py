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
from soc2hub.models import Team


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
    controls = serializers.SlugRelatedField(slug_field="ref", queryset=Control.objects.all(), many=True,
                                            required=False)
    criteria = serializers.SlugRelatedField(slug_field="code", queryset=Criterion.objects.all(), many=True,
                                            required=False)
    nhis = serializers.PrimaryKeyRelatedField(queryset=NonHumanIdentity.objects.all(), many=True, required=False)
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
    password = serializers.CharField(max_length=200, write_only=True, style={"input_type": "password"})
    content_sha256 = serializers.CharField(max_length=64, help_text="The content_sha256 you read; a stale one is refused.")
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
