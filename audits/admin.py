"""Audits in the admin: read-only. Engagements, auditors and requests change through the
portal's services (so every change is checked and logged); the access log never changes."""

from django.contrib import admin

from audits.models import Audit, AuditAuditor, AuditComment, AuditorAccess, AuditRequest, AuditSample, ReportJob
from soc2hub.admin import ReadOnlyAdmin


class AuditAuditorInline(admin.TabularInline):
    model = AuditAuditor
    fk_name = "audit"
    fields = ["user", "access_ends_on", "added_by", "added_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Audit)
class AuditAdmin(ReadOnlyAdmin):
    list_display = ["name", "firm", "type", "window_label", "status"]
    list_filter = ["type", "status"]
    search_fields = ["name", "firm"]
    inlines = [AuditAuditorInline]


@admin.register(AuditRequest)
class AuditRequestAdmin(ReadOnlyAdmin):
    list_display = ["reference", "title", "audit", "status", "due_on"]
    list_filter = ["status", "audit"]
    search_fields = ["title"]


@admin.register(AuditComment)
class AuditCommentAdmin(ReadOnlyAdmin):
    list_display = ["audit_request", "author", "created_at"]


@admin.register(AuditSample)
class AuditSampleAdmin(ReadOnlyAdmin):
    list_display = ["audit", "population", "size", "seed", "created_by", "created_at"]


@admin.register(ReportJob)
class ReportJobAdmin(ReadOnlyAdmin):
    list_display = ["audit", "kind", "status", "requested_by", "created_at", "finished_at"]
    list_filter = ["kind", "status"]


@admin.register(AuditorAccess)
class AuditorAccessAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "audit", "method", "path", "status_code", "is_download"]
    list_filter = ["status_code", "is_download", "audit"]
    search_fields = ["path", "user__username"]
