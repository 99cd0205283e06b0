from django.contrib import admin

from controls.models import Control, CrosswalkReference, Criterion
from soc2hub import permissions
from soc2hub.admin import ActivityLoggedAdmin


class OwnershipAdminMixin:
    """Owner changes in the admin follow the same rule as the pages and the API."""

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.CHANGE_OWNERS, obj or self.model)


@admin.register(Criterion)
class CriterionAdmin(OwnershipAdminMixin, ActivityLoggedAdmin):
    list_display = ["code", "title", "category", "business_owner", "control_owner", "evidence_owner"]
    list_filter = ["category", "series"]
    search_fields = ["code", "title"]
    readonly_fields = ["code", "category", "series", "series_name", "title", "summary", "sort_order"]

    def has_add_permission(self, request):
        return False  # criteria come from the catalog file (load_soc2_catalog)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Control)
class ControlAdmin(OwnershipAdminMixin, ActivityLoggedAdmin):
    list_display = ["ref", "name", "status", "frequency", "business_owner", "control_owner", "evidence_owner"]
    list_filter = ["status", "frequency", "automation"]
    search_fields = ["ref", "name"]
    filter_horizontal = ["criteria", "crosswalk"]

    def has_add_permission(self, request):
        return permissions.can(request.user, permissions.ADD, Control)


@admin.register(CrosswalkReference)
class CrosswalkReferenceAdmin(admin.ModelAdmin):
    list_display = ["code", "framework", "title"]
    list_filter = ["framework"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
