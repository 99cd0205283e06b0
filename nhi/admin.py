from django.contrib import admin

from nhi.models import AttestationCampaign, AttestationItem, NhiImport, NonHumanIdentity, RotationRecord
from soc2hub import permissions
from soc2hub.admin import ActivityLoggedAdmin, ReadOnlyAdmin


@admin.register(NonHumanIdentity)
class NonHumanIdentityAdmin(ActivityLoggedAdmin):
    list_display = ["name", "kind", "environment", "owner_team", "status", "last_rotated_on", "last_used_on"]
    list_filter = ["kind", "status", "environment", "owner_team", "source"]
    search_fields = ["name", "external_id"]
    readonly_fields = ["source", "rotation_due_on", "created_at", "updated_at"]
    raw_id_fields = ["technical_owner"]
    filter_horizontal = ["controls"]

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.CHANGE, obj or NonHumanIdentity)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke or decommission instead: the history stays


@admin.register(RotationRecord)
class RotationRecordAdmin(ReadOnlyAdmin):
    list_display = ["nhi", "rotated_on", "rotated_by", "evidence_sha256"]


@admin.register(NhiImport)
class NhiImportAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "format", "status", "new_count", "updated_count", "error_count", "created_at"]


class AttestationItemInline(admin.TabularInline):
    model = AttestationItem
    fields = ["nhi", "owner_team", "decision", "scopes_confirmed", "decided_by", "decided_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AttestationCampaign)
class AttestationCampaignAdmin(ReadOnlyAdmin):
    list_display = ["name", "due_on", "status", "created_by", "closed_at"]
    inlines = [AttestationItemInline]
