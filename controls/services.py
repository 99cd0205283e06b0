"""Writes to criteria and controls. Each is atomic, checks permission and logs the change."""

from django.core.exceptions import ValidationError
from django.db import transaction

from controls.models import OWNER_ROLES, Control, Criterion
from soc2hub import permissions
from soc2hub.models import Team
from soc2hub.services import activity_record

CONTROL_FIELDS = ("ref", "name", "description", "frequency", "automation", "status", "evidence_standard")


def _owner_snapshot(obj) -> dict:
    return {role: (getattr(obj, role).slug if getattr(obj, role) else None) for role in OWNER_ROLES}


def _set_owners(*, obj, actor, owners: dict[str, Team | None]) -> bool:
    unknown = set(owners) - set(OWNER_ROLES)
    if unknown:
        raise ValidationError({role: "Not an owner role." for role in unknown})
    permissions.require(actor, permissions.CHANGE_OWNERS, obj)
    before = _owner_snapshot(obj)
    for role, team in owners.items():
        setattr(obj, role, team)
    after = _owner_snapshot(obj)
    if before == after:
        return False
    obj.save(update_fields=[*owners, *(["updated_at"] if isinstance(obj, Control) else [])])
    changed = {k: after[k] for k in after if after[k] != before[k]}
    activity_record(
        actor=actor,
        verb="owners.changed",
        obj=obj,
        before={k: before[k] for k in changed},
        after=changed,
    )
    return True


@transaction.atomic
def criterion_set_owners(*, criterion: Criterion, actor, owners: dict[str, Team | None]) -> bool:
    """Assign one or more of a criterion's owners. Returns whether anything changed."""
    criterion = Criterion.objects.select_for_update(of=("self",)).select_related(*OWNER_ROLES).get(pk=criterion.pk)
    return _set_owners(obj=criterion, actor=actor, owners=owners)


@transaction.atomic
def control_set_owners(*, control: Control, actor, owners: dict[str, Team | None]) -> bool:
    control = Control.objects.select_for_update(of=("self",)).select_related(*OWNER_ROLES).get(pk=control.pk)
    return _set_owners(obj=control, actor=actor, owners=owners)


def _control_snapshot(control: Control) -> dict:
    data = {f: getattr(control, f) for f in CONTROL_FIELDS}
    data.update(_owner_snapshot(control))
    if control.pk:
        data["criteria"] = sorted(control.criteria.values_list("code", flat=True))
        data["crosswalk"] = sorted(control.crosswalk.values_list("code", flat=True))
    return data


@transaction.atomic
def control_create(*, actor, criteria=(), crosswalk=(), **fields) -> Control:
    permissions.require(actor, permissions.ADD, Control)
    owners = {role: fields.pop(role) for role in OWNER_ROLES if role in fields}
    control = Control(**fields, **owners)
    control.full_clean()
    control.save()
    control.criteria.set(criteria)
    control.crosswalk.set(crosswalk)
    activity_record(actor=actor, verb="control.created", obj=control, after=_control_snapshot(control))
    return control


@transaction.atomic
def control_update(*, control: Control, actor, criteria=None, crosswalk=None, **fields) -> Control:
    """Change a control. Owner changes need the right to change owners, the rest the right
    to change the control."""
    control = Control.objects.select_for_update().get(pk=control.pk)
    permissions.require(actor, permissions.CHANGE, control)
    before = _control_snapshot(control)
    owners = {role: fields.pop(role) for role in OWNER_ROLES if role in fields}
    if owners and any(getattr(control, role) != team for role, team in owners.items()):
        permissions.require(actor, permissions.CHANGE_OWNERS, control)
    unknown = set(fields) - set(CONTROL_FIELDS)
    if unknown:
        raise ValidationError({f: "This field cannot be changed here." for f in unknown})
    for name, value in {**fields, **owners}.items():
        setattr(control, name, value)
    control.full_clean()
    control.save()
    if criteria is not None:
        control.criteria.set(criteria)
    if crosswalk is not None:
        control.crosswalk.set(crosswalk)
    after = _control_snapshot(control)
    changed = {k for k in after if after[k] != before.get(k)}
    if changed:
        activity_record(
            actor=actor,
            verb="control.changed",
            obj=control,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return control
