from django.contrib import admin

from exceptions.models import ExceptionRecord, ExceptionSignature, ExceptionVersion


class ExceptionSignatureInline(admin.TabularInline):
    model = ExceptionSignature
    fields = ["version", "role", "signer", "typed_name", "decision", "signed_at", "ip_address", "content_sha256",
              "voided_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ExceptionVersionInline(admin.TabularInline):
    model = ExceptionVersion
    fields = ["version", "content_sha256", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ExceptionRecord)
class ExceptionRecordAdmin(admin.ModelAdmin):
    """Read-only: an exception changes only through its workflow, so that a change to signed
    content always voids the signatures (the edit page and the API do that)."""

    list_display = ["__str__", "type", "requesting_team", "status", "expires_on", "version"]
    list_filter = ["status", "type", "requesting_team"]
    search_fields = ["title"]
    inlines = [ExceptionSignatureInline, ExceptionVersionInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
