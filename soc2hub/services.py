"""Writes shared by every app: the activity log."""

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
