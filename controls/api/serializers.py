from rest_framework import serializers

from controls.models import OWNER_ROLES, Control, CrosswalkReference, Criterion
from soc2hub.models import Team
from soc2hub.pickers import VisibleSlugRelatedField


class TeamRefField(VisibleSlugRelatedField):
    """An owner, written and read as the team's slug; null means unassigned."""

    default_error_messages = {
        "does_not_exist": "No team with slug '{value}'.",
        "invalid": "Give a team slug (a string) or null.",
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Team.objects.all(), allow_null=True, required=False, **kwargs)


class TeamSerializer(serializers.ModelSerializer):
    lead = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Team
        fields = ["id", "slug", "name", "function", "lead", "email"]


class CriterionSerializer(serializers.ModelSerializer):
    business_owner = TeamRefField()
    control_owner = TeamRefField()
    evidence_owner = TeamRefField()
    is_unassigned = serializers.BooleanField(read_only=True)
    is_security_only = serializers.BooleanField(read_only=True)
    control_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Criterion
        fields = [
            "code", "category", "series", "series_name", "title", "summary",
            *OWNER_ROLES, "is_unassigned", "is_security_only", "control_count",
        ]
        read_only_fields = ["code", "category", "series", "series_name", "title", "summary"]


class CrosswalkReferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = CrosswalkReference
        fields = ["framework", "code", "title"]


class ControlSerializer(serializers.ModelSerializer):
    business_owner = TeamRefField()
    control_owner = TeamRefField()
    evidence_owner = TeamRefField()
    criteria = VisibleSlugRelatedField(
        slug_field="code", queryset=Criterion.objects.all(), many=True,
    )
    # Crosswalk references are the frameworks' public catalogue: no row of it is hidden.
    crosswalk = serializers.SlugRelatedField(
        slug_field="code", queryset=CrosswalkReference.objects.all(), many=True, required=False,
    )
    is_unassigned = serializers.BooleanField(read_only=True)
    is_security_only = serializers.BooleanField(read_only=True)

    class Meta:
        model = Control
        fields = [
            "id", "ref", "name", "description", "criteria", *OWNER_ROLES, "frequency", "automation", "status",
            "crosswalk", "evidence_standard", "is_unassigned", "is_security_only", "created_at", "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_criteria(self, value):
        if not value:
            raise serializers.ValidationError("Map the control to at least one criterion.")
        return value

    def validate_ref(self, value):
        if self.instance is not None and value != self.instance.ref:
            raise serializers.ValidationError("A control's reference cannot change.")
        return value
