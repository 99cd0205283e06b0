"""Writes shared by every app: the activity log, and people leaving."""

from collections.abc import Callable

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from soc2hub.models import ActivityLog


def activity_record(*, actor, verb: str, obj=None, before=None, after=None, message: str = "") -> ActivityLog:
    """Append one entry to the activity log. Call it inside the transaction that makes the
    change, so the change and its record land together or not at all."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("activity_record() must run inside the transaction that makes the change")
    return ActivityLog.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        verb=verb,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        before=before,
        after=after,
        message=message,
    )


# --- people leaving --------------------------------------------------------------------------------
# A person is deactivated, never deleted, from the admin or by single sign-on. What else must follow
# belongs to the apps (nhi: their identities are flagged for transfer), which register a step here
# from AppConfig.ready(): the core never imports them.

_LEAVING_STEPS: list[Callable[..., object]] = []


def when_person_leaves(step: Callable[..., object]) -> Callable[..., object]:
    """Registers ``step(*, user, actor)``, run in the transaction that deactivates a person."""
    if step not in _LEAVING_STEPS:
        _LEAVING_STEPS.append(step)
    return step


def person_left(*, user, actor) -> None:
    """Runs every app's step for a person just deactivated (inside that transaction)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("person_left() must run inside the transaction that deactivates the person")
    for step in _LEAVING_STEPS:
        step(user=user, actor=actor)


@transaction.atomic
def user_deactivate(*, user, actor, reason: str) -> bool:
    """Deactivates a person, records why, and runs the apps' leaving steps. False when they
    were already inactive (nothing is done twice)."""
    locked = type(user).objects.select_for_update().get(pk=user.pk)
    if not locked.is_active:
        return False
    locked.is_active = False
    locked.save(update_fields=["is_active"])
    user.is_active = False
    activity_record(actor=actor, verb="user.deactivated", obj=locked, message=reason)
    person_left(user=locked, actor=actor)
    return True
