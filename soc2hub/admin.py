from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.forms.models import model_to_dict
from guardian.admin import GuardedModelAdmin

from soc2hub.models import ActivityLog, Membership, Notification, Team, User
from soc2hub.services import activity_record, person_left


def _jsonable(obj) -> dict:
    data = model_to_dict(obj)
    return {k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v)) for k, v in data.items()}


class ReadOnlyAdmin(admin.ModelAdmin):
    """Visible in the admin, changed only through soc2hub's own workflow (services)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ActivityLoggedAdmin(admin.ModelAdmin):
    """Admin edits land in the activity log like every other change (the admin already
    wraps each save in a transaction)."""

    def save_model(self, request, obj, form, change):
        before = _jsonable(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        after = _jsonable(obj)
        if before != after:
            changed = {k for k in after if before is None or after[k] != before.get(k)}
            activity_record(
                actor=request.user,
                verb=f"admin.{'changed' if change else 'created'}",
                obj=obj,
                before={k: before[k] for k in changed} if before else None,
                after={k: after[k] for k in changed},
            )

    def delete_model(self, request, obj):
        activity_record(actor=request.user, verb="admin.deleted", obj=obj, before=_jsonable(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(ActivityLoggedAdmin, GuardedModelAdmin):
    list_display = ["name", "slug", "function", "lead"]
    list_filter = ["function"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


def _admin_site_open_to(request) -> bool:
    """The admin is for superusers (setup) and Security (what it runs: see admin_rights)."""
    user = request.user
    return user.is_active and (user.is_superuser or user.is_security)


admin.site.has_permission = _admin_site_open_to
_admin_login_form = admin.site.login


def _admin_login(request, extra_context=None):
    """One way in: the admin's own password form would skip the second factor, the lockout
    page and single sign-on, so signing in happens on soc2hub's page."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"), reverse("login"))
    return _admin_login_form(request, extra_context)


admin.site.login = _admin_login

# Who is an administrator, and what a person may do, stay with superusers.
ADMIN_ONLY_USER_FIELDS = {"is_superuser", "is_staff", "groups", "user_permissions", "password"}


@admin.register(User)
class UserAdmin(ActivityLoggedAdmin, BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "email", "is_active", "is_staff"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        return [(name, {**options, "fields": [f for f in options["fields"] if f not in ADMIN_ONLY_USER_FIELDS]})
                for name, options in fieldsets]

    def has_add_permission(self, request):
        """New people come from the identity provider or the setup administrator, with their
        own password; Security never sets one."""
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        if not request.user.is_superuser:
            raise PermissionDenied("Only the setup administrator changes another person's password.")
        return super().user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change):
        was_active = change and User.objects.filter(pk=obj.pk, is_active=True).exists()
        super().save_model(request, obj, form, change)
        if was_active and not obj.is_active:
            # Someone left: the apps' leaving steps run (nhi: identities to transfer, OWASP NHI1:2025).
            person_left(user=obj, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # people leave: deactivate them, the log keeps pointing at them


@admin.register(ActivityLog)
class ActivityLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "verb", "object_repr"]
    list_filter = ["verb", "content_type"]
    search_fields = ["object_repr", "verb", "actor__username"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "title", "read_at"]
    list_filter = ["kind"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ScheduleAdmin(PeriodicTaskAdmin):
    """Security changes when scheduled work runs (the daily jobs' hour), never what runs or
    with which arguments, nor switches it off: that stays with the setup administrator."""

    SETUP_ONLY = ("name", "task", "args", "kwargs", "headers", "queue", "exchange", "routing_key",
                  "priority", "expires", "expire_seconds", "one_off", "enabled", "description")

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return readonly
        return [*readonly, *(f for f in self.SETUP_ONLY if f not in readonly)]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions = {}  # enable, disable, toggle and run-now are setup actions
        return actions


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, ScheduleAdmin)
