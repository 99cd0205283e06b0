"""Writes for non-human identities: one service per lifecycle action, each atomic, checked and logged."""

import datetime as dt
import hashlib

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from nhi.models import DEFAULT_ROTATION_DAYS, LIVE_STATUSES, NhiStatus, NonHumanIdentity, RotationRecord
from soc2hub import permissions
from soc2hub.models import Team, User
from soc2hub.notifications import members_of, notify, security_people
from soc2hub.pickers import check_member
from soc2hub.services import activity_record

EDITABLE_FIELDS = (
    "name", "kind", "provider", "environment", "external_id", "owner_team", "technical_owner", "purpose", "scopes",
    "has_admin_access", "has_production_access", "vendor", "secret_location", "credential_fingerprint",
    "created_on", "last_used_on", "last_rotated_on", "rotation_interval_days", "expires_on", "owasp_tags",
)


def snapshot(nhi: NonHumanIdentity, fields=EDITABLE_FIELDS + ("status",)) -> dict:
    data = {}
    for name in fields:
        value = getattr(nhi, name)
        data[name] = value.pk if hasattr(value, "pk") else (value.isoformat() if hasattr(value, "isoformat") else value)
    return data


def _changes(before: dict, after: dict) -> tuple[dict, dict]:
    changed = [k for k in after if after[k] != before.get(k)]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


def _check_owner(fields: dict, *, status: str) -> None:
    if status == NhiStatus.ACTIVE and fields.get("owner_team") is None:
        raise ValidationError({"owner_team": "An active identity needs an owner team: someone must answer for it."})


def _check_dates(fields: dict, today: dt.date) -> None:
    errors = {}
    for name in ("created_on", "last_used_on", "last_rotated_on"):
        value = fields.get(name)
        if value and value > today:
            errors[name] = "This date is in the future."
    created, rotated = fields.get("created_on"), fields.get("last_rotated_on")
    if created and rotated and rotated < created:
        errors["last_rotated_on"] = "It cannot have been rotated before it was created."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def nhi_create(*, actor, controls=(), **fields) -> NonHumanIdentity:
    permissions.require(actor, permissions.ADD, NonHumanIdentity)
    team = fields.get("owner_team")
    if team is not None and not actor.is_security and team.pk not in actor.team_ids():
        raise ValidationError({"owner_team": "You can register identities only for a team you belong to."})
    _check_owner(fields, status=NhiStatus.ACTIVE)
    # Someone answers for it: an active member of its owner team (OWASP NHI1:2025).
    check_member(fields.get("technical_owner"), team, field="technical_owner")
    _check_dates(fields, timezone.localdate())
    fields.setdefault("source", "manual")
    if fields.get("rotation_interval_days") is None:
        fields["rotation_interval_days"] = DEFAULT_ROTATION_DAYS.get(fields.get("kind"))
    nhi = NonHumanIdentity(**fields)
    nhi.full_clean()
    nhi.save()
    nhi.controls.set(controls)
    activity_record(actor=actor, verb="nhi.created", obj=nhi, after=snapshot(nhi))
    return nhi


@transaction.atomic
def nhi_update(*, nhi: NonHumanIdentity, actor, controls=None, **fields) -> NonHumanIdentity:
    nhi = NonHumanIdentity.objects.select_for_update().get(pk=nhi.pk)
    permissions.require(actor, permissions.CHANGE, nhi)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in unknown})
    if "owner_team" in fields and fields["owner_team"] != nhi.owner_team:
        raise ValidationError({"owner_team": "Use “Transfer ownership”: a transfer also marks the credential for "
                                             "rotation."})
    if "technical_owner" in fields:  # whoever holds it already may stay until it is changed
        check_member(fields["technical_owner"], nhi.owner_team, field="technical_owner", keep=nhi.technical_owner)
    before = snapshot(nhi)
    for name, value in fields.items():
        setattr(nhi, name, value)
    _check_owner({"owner_team": nhi.owner_team}, status=nhi.status)
    _check_dates({k: getattr(nhi, k) for k in ("created_on", "last_used_on", "last_rotated_on")},
                 timezone.localdate())
    nhi.full_clean()
    nhi.save()
    if controls is not None:
        nhi.controls.set(controls)
    old, new = _changes(before, snapshot(nhi))
    if new:
        activity_record(actor=actor, verb="nhi.changed", obj=nhi, before=old, after=new)
    return nhi


def _hash_file(upload) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


@transaction.atomic
def nhi_rotate(*, nhi: NonHumanIdentity, actor, rotated_on: dt.date | None = None, evidence_link: str = "",
               evidence_file=None, new_fingerprint: str = "", note: str = "") -> RotationRecord:
    """Record that the credential was rotated: when, by whom, with a link or file as evidence."""
    nhi = NonHumanIdentity.objects.select_for_update().get(pk=nhi.pk)
    permissions.require(actor, permissions.ROTATE, nhi)
    if nhi.status not in LIVE_STATUSES:
        raise ValidationError(f"{nhi} is {nhi.get_status_display().lower()}; there is nothing to rotate.")
    today = timezone.localdate()
    rotated_on = rotated_on or today
    if rotated_on > today:
        raise ValidationError({"rotated_on": "The rotation date is in the future."})
    if nhi.created_on and rotated_on < nhi.created_on:
        raise ValidationError({"rotated_on": "The rotation date is before the identity was created."})
    if not evidence_link and not evidence_file:
        raise ValidationError("Attach evidence of the rotation: a link to the change or a file.")
    record = RotationRecord(nhi=nhi, rotated_on=rotated_on, rotated_by=actor, evidence_link=evidence_link,
                            new_fingerprint=new_fingerprint, note=note)
    if evidence_file is not None:
        from evidence.storage import inspect_upload  # the same checks as evidence uploads

        info = inspect_upload(evidence_file)
        record.evidence_sha256 = info.sha256
        record.evidence_file.save(info.name, evidence_file, save=False)
    record.save()
    before = snapshot(nhi, ("last_rotated_on", "credential_fingerprint", "rotation_required"))
    nhi.last_rotated_on = max(rotated_on, nhi.last_rotated_on or rotated_on)
    nhi.rotation_required = False
    if new_fingerprint:
        nhi.credential_fingerprint = new_fingerprint
    nhi.save()
    old, new = _changes(before, snapshot(nhi, ("last_rotated_on", "credential_fingerprint", "rotation_required")))
    activity_record(actor=actor, verb="nhi.rotated", obj=nhi, before=old,
                    after={**new, "rotated_on": rotated_on.isoformat(), "evidence_sha256": record.evidence_sha256,
                           "evidence_link": evidence_link}, message=note)
    return record


@transaction.atomic
def nhi_revoke(*, nhi: NonHumanIdentity, actor, reason: str, evidence_link: str = "",
               decommission: bool = False) -> NonHumanIdentity:
    """Revoke the credential (or decommission the identity altogether), with the reason on record."""
    nhi = NonHumanIdentity.objects.select_for_update().get(pk=nhi.pk)
    permissions.require(actor, permissions.REVOKE, nhi)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why it is revoked; it goes on the record."})
    if nhi.status not in LIVE_STATUSES:
        raise ValidationError(f"{nhi} is already {nhi.get_status_display().lower()}.")
    before = nhi.status
    nhi.status = NhiStatus.DECOMMISSIONED if decommission else NhiStatus.REVOKED
    nhi.transfer_required = False
    nhi.save()
    activity_record(actor=actor, verb=f"nhi.{nhi.status}", obj=nhi, before={"status": before},
                    after={"status": nhi.status, "evidence_link": evidence_link}, message=reason)
    return nhi


@transaction.atomic
def nhi_transfer(*, nhi: NonHumanIdentity, actor, team: Team, technical_owner: User | None = None,
                 note: str = "") -> NonHumanIdentity:
    """Hand the identity to another team (and person). Whoever held it may still know the
    secret, so a transfer marks the credential for rotation (OWASP NHI1:2025)."""
    nhi = NonHumanIdentity.objects.select_for_update().get(pk=nhi.pk)
    permissions.require(actor, permissions.TRANSFER, nhi)
    if team is None:
        raise ValidationError({"team": "Choose the team that takes it over."})
    check_member(technical_owner, team, field="technical_owner")
    before = snapshot(nhi, ("owner_team", "technical_owner", "rotation_required", "transfer_required"))
    nhi.owner_team, nhi.technical_owner = team, technical_owner
    nhi.rotation_required, nhi.transfer_required = True, False
    nhi.save()
    old, new = _changes(before, snapshot(nhi, ("owner_team", "technical_owner", "rotation_required",
                                                "transfer_required")))
    activity_record(actor=actor, verb="nhi.transferred", obj=nhi, before=old, after=new, message=note)
    notify(users=members_of(team), kind="nhi.transferred", subject=f"{team.name} now owns {nhi}: rotate its credential",
           template="nhi_transferred", context={"nhi": nhi, "team": team, "actor": actor},
           url=nhi.get_absolute_url())
    return nhi


@transaction.atomic
def user_offboard(*, user: User, actor) -> list[NonHumanIdentity]:
    """A person leaves: deactivate them and flag every identity they were the technical owner
    of for transfer, telling their team leads and Security (OWASP NHI1:2025)."""
    permissions.require(actor, permissions.OFFBOARD, user)
    user = User.objects.select_for_update().get(pk=user.pk)
    was_active = user.is_active
    if was_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
        activity_record(actor=actor, verb="user.deactivated", obj=user)
    return nhi_flag_owner_left(user=user, actor=actor)


def nhi_flag_owner_left(*, user: User, actor) -> list[NonHumanIdentity]:
    """Flag the identities of a person who is no longer active (call inside a transaction)."""
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the outer join to the team.
    owned = list(NonHumanIdentity.objects.select_for_update(of=("self",)).filter(
        technical_owner=user, status__in=LIVE_STATUSES, transfer_required=False).select_related("owner_team__lead"))
    for nhi in owned:
        nhi.transfer_required = True
        nhi.rotation_required = True
        nhi.save()
        activity_record(actor=actor, verb="nhi.owner_left", obj=nhi, after={"technical_owner": user.username},
                        message="Transfer it to a new owner or decommission it, and rotate its credential.")
    if owned:
        leads = {nhi.owner_team.lead for nhi in owned if nhi.owner_team and nhi.owner_team.lead}
        notify(users=[*leads, *security_people()], kind="nhi.owner_left",
               subject=f"{user} left: {len(owned)} non-human identit{'y' if len(owned) == 1 else 'ies'} to transfer",
               template="nhi_owner_left", context={"person": user, "nhis": owned}, url="/nhi/?orphaned=1")
    return owned
