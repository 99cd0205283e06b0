"""Who may see and do what. Every view, API endpoint, download, report and task asks here.

Two questions, one answer each:

* ``restrict(queryset, user, action)`` — which rows of this queryset may ``user`` see or act
  on; always a SQL filter, never a Python list of ids.
* ``require(user, action, obj)`` — may ``user`` do ``action`` to ``obj``; raises
  ``PermissionDenied`` when not. ``can()`` is the same question answering ``True``/``False``.
  ``obj`` may be a model class for actions that create.

Roles: members of the **Security** group coordinate and review everything; **Leadership**
and **Auditors** are role groups; every other right comes from team membership (a team's
members act as its owners) or from a django-guardian per-object grant where membership
alone does not decide (for example a named person delegated to maintain one control).
"""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from guardian.shortcuts import get_objects_for_user
from rest_framework import permissions as drf_permissions

from controls.models import Control, Criterion
from soc2hub.models import ActivityLog, Team

VIEW = "view"
ADD = "add"
CHANGE = "change"
CHANGE_OWNERS = "change_owners"
MANAGE = "manage"


def _signed_in(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def _security(user) -> bool:
    return _signed_in(user) and user.is_security


def _catalog_view(user, obj) -> bool:
    """Criteria, controls and teams: everyone signed in may read the programme's structure."""
    return _signed_in(user)


def _change_owners(user, obj) -> bool:
    """Only Security assigns business, control and evidence owners."""
    return _security(user)


def _control_change(user, obj) -> bool:
    """Security edits any control; a person Security delegated to (guardian
    ``controls.change_control`` on that control) edits that one control."""
    if _security(user):
        return True
    if not _signed_in(user) or isinstance(obj, type):
        return False
    return user.has_perm("controls.change_control", obj)


def _control_add(user, obj) -> bool:
    """New controls are written by Security."""
    return _security(user)


def _team_manage(user, obj) -> bool:
    """Security, the team's lead, or someone granted ``soc2hub.manage_team`` on the team."""
    if _security(user):
        return True
    if not _signed_in(user) or isinstance(obj, type):
        return False
    return obj.lead_id == user.pk or user.has_perm("soc2hub.manage_team", obj)


def _activity_view(user, obj) -> bool:
    """The activity log is read by Security (and Leadership); nobody edits it."""
    return _signed_in(user) and (user.is_security or user.is_leadership)


RULES: dict[tuple[type[models.Model], str], Callable] = {
    (Criterion, VIEW): _catalog_view,
    (Criterion, CHANGE_OWNERS): _change_owners,
    (Control, VIEW): _catalog_view,
    (Control, ADD): _control_add,
    (Control, CHANGE): _control_change,
    (Control, CHANGE_OWNERS): _change_owners,
    (Team, VIEW): _catalog_view,
    (Team, MANAGE): _team_manage,
    (ActivityLog, VIEW): _activity_view,
}


def _model_of(obj) -> type[models.Model]:
    return obj if isinstance(obj, type) else type(obj)


def can(user, action: str, obj) -> bool:
    rule = RULES.get((_model_of(obj), action))
    return bool(rule and rule(user, obj))


def require(user, action: str, obj) -> None:
    if not can(user, action, obj):
        raise PermissionDenied(f"You may not {action.replace('_', ' ')} this {_model_of(obj)._meta.verbose_name}.")


def restrict(queryset: models.QuerySet, user, action: str = VIEW) -> models.QuerySet:
    """The rows of ``queryset`` that ``user`` may ``action``, as a SQL filter."""
    model = queryset.model
    if not _signed_in(user):
        return queryset.none()
    if not user.is_security:
        # Per-object grants: a subquery, so the filter stays in SQL however many rows there are.
        if model is Control and action == CHANGE:
            delegated = get_objects_for_user(user, "controls.change_control", klass=Control, accept_global_perms=False)
            return queryset.filter(pk__in=delegated.values("pk"))
        if model is Team and action == MANAGE:
            granted = get_objects_for_user(user, "soc2hub.manage_team", klass=Team, accept_global_perms=False)
            return queryset.filter(Q(lead=user) | Q(pk__in=granted.values("pk")))
    return queryset if can(user, action, model) else queryset.none()


class ApiPermission(drf_permissions.BasePermission):
    """DRF's door to this module. A viewset names the action each of its methods needs in
    ``permission_actions`` (e.g. ``{"partial_update": "change_owners"}``); reads need ``view``."""

    def _action(self, request, view) -> str:
        mapping = getattr(view, "permission_actions", {})
        if view.action in mapping:
            return mapping[view.action]
        if request.method in drf_permissions.SAFE_METHODS:
            return VIEW
        return {"create": ADD, "destroy": "delete"}.get(view.action, CHANGE)

    def has_permission(self, request, view):
        if not _signed_in(request.user):
            return False
        if view.action == "create":
            return can(request.user, self._action(request, view), view.get_queryset().model)
        return True  # the object decides, in has_object_permission

    def has_object_permission(self, request, view, obj):
        return can(request.user, self._action(request, view), obj)
