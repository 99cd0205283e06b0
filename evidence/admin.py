from django.contrib import admin

from evidence.models import CalendarFeed, Evidence, EvidenceFile, EvidenceReminder, EvidenceRequest, EvidenceTemplate
from soc2hub import permissions
from soc2hub.admin import ActivityLoggedAdmin, ReadOnlyAdmin


@admin.register(EvidenceTemplate)
class EvidenceTemplateAdmin(ActivityLoggedAdmin):
    list_display = ["title", "control", "cadence", "owner_team", "due_days_after_period_end", "is_active"]
    list_filter = ["cadence", "owner_team", "is_active"]
    search_fields = ["title", "control__ref"]
    raw_id_fields = ["control"]

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.CHANGE, obj or EvidenceTemplate)

    def has_add_permission(self, request):
        return permissions.can(request.user, permissions.ADD, EvidenceTemplate)

    def has_delete_permission(self, request, obj=None):
        return False  # pause a standard instead: its requests keep pointing at it


class EvidenceFileInline(admin.TabularInline):
    model = EvidenceFile
    fields = ["original_name", "size", "content_type", "sha256", "uploaded_by", "uploaded_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EvidenceRequest)
class EvidenceRequestAdmin(ReadOnlyAdmin):
    list_display = ["title", "period_label", "owner_team", "due_on", "status"]
    list_filter = ["status", "owner_team"]
    search_fields = ["title", "control__ref", "period_label"]
    date_hierarchy = "due_on"


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "submitted_by", "submitted_at", "reviewed_by"]
    list_filter = ["status"]
    inlines = [EvidenceFileInline]


@admin.register(EvidenceReminder)
class EvidenceReminderAdmin(ReadOnlyAdmin):
    list_display = ["request", "kind", "key", "sent_at", "recipients"]
    list_filter = ["kind"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ReadOnlyAdmin):
    list_display = ["team", "created_by", "created_at", "revoked_at"]
    exclude = ["token"]
