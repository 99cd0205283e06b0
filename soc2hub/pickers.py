"""Choosing rows and people in forms and API bodies, with one answer for "no such" and "not yours".

A field that takes an id, a slug or a username looks it up only among the rows the caller may
use — ``permissions.restrict`` for rows, ``active_members`` for people — so a row the caller
may not see, or a person who may not be chosen, gets exactly the answer a value that names
nothing gets, and the answer never names the row or the person.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from soc2hub import permissions
from soc2hub.models import Team, User


# --- people ----------------------------------------------------------------------------------

def active_members(team: Team | None) -> QuerySet:
    """The people who may answer for something ``team`` owns: its active members. Never a
    deactivated person, and never an external auditor (they are in no team by definition)."""
    if team is None:
        return User.objects.none()
    return User.objects.filter(is_active=True, memberships__team=team).order_by("first_name", "last_name",
                                                                                 "username")


def choose_member_message(team: Team | None) -> str:
    """The one refusal for a person who may not be chosen, whether or not they exist."""
    return f"Choose an active member of {team.name}." if team is not None else "Choose the team first."


def member_named(team: Team | None, username: str, *, keep: User | None = None) -> User | None:
    """The active member of ``team`` with this username, or None — for a stranger, a leaver and
    a username nobody has alike (answer with ``choose_member_message``). ``keep``, the current
    holder, is accepted unchanged even if they have since left."""
    if keep is not None and username == keep.username:
        return keep
    return active_members(team).filter(username=username).first()


def check_member(person: User | None, team: Team | None, *, field: str, keep: User | None = None) -> None:
    """For services: refuse ``person`` unless they are an active member of ``team`` (or the
    unchanged ``keep``), with ``choose_member_message`` on ``field``."""
    if person is None or (keep is not None and person.pk == keep.pk):
        return
    if not active_members(team).filter(pk=person.pk).exists():
        raise ValidationError({field: choose_member_message(team)})


def member_choices(field: forms.ModelChoiceField, team: Team | None, *, keep: User | None = None,
                   teams: QuerySet | None = None) -> None:
    """Point a form's person field at the active members of ``team`` (or, while the team is
    not chosen yet, of any of ``teams``), keeping ``keep``, the current holder; whoever else
    is posted gets ``choose_member_message``."""
    if team is not None:
        allowed = Q(is_active=True, memberships__team=team)
    elif teams is not None:
        allowed = Q(is_active=True, memberships__team__in=teams)
    else:
        allowed = Q(pk__in=[])
    if keep is not None:
        allowed |= Q(pk=keep.pk)
    field.queryset = User.objects.filter(allowed).distinct().order_by("first_name", "last_name", "username")
    field.error_messages["invalid_choice"] = choose_member_message(team)


@extend_schema_field(OpenApiTypes.STR)
class UsernameField(serializers.Field):
    """A person in an API body, by username. The serializer decides who may be named (see
    ``member_named``), once it knows the team: this field only reads the string."""

    default_error_messages = {"invalid": "Give a username."}

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data or len(data) > 150:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value.username


# --- rows --------------------------------------------------------------------------------------

class RestrictedRelatedField:
    """A DRF related field whose choices are the rows the caller may ``action``
    (``permissions.restrict``, read from the request in the serializer's context). Without a
    request nothing is accepted."""

    def __init__(self, *, action: str = permissions.VIEW, **kwargs):
        self.permission_action = action
        super().__init__(**kwargs)

    def get_queryset(self):
        user = getattr(self.context.get("request"), "user", None)
        return permissions.restrict(super().get_queryset(), user, self.permission_action)


class VisibleSlugRelatedField(RestrictedRelatedField, serializers.SlugRelatedField):
    pass


class VisiblePrimaryKeyRelatedField(RestrictedRelatedField, serializers.PrimaryKeyRelatedField):
    pass


def restrict_choices(form: forms.Form, user, **fields: str) -> None:
    """``restrict_choices(form, user, control="view")``: narrow each named choice field to the
    rows ``user`` may act on; any other value gets the field's "not a valid choice" answer."""
    for name, action in fields.items():
        field = form.fields[name]
        field.queryset = permissions.restrict(field.queryset, user, action)
