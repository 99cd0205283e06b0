"""The daily non-human identity job: tell owner teams what is overdue for rotation or about to
expire, once per state, and escalate what stays overdue to the team lead and Security weekly.

"Once per state" is an ``NhiAlert`` row, unique on (identity, kind, key):

* ``rotation_overdue``: the date rotation fell due, ``never`` for a credential never rotated, or
  ``required`` when a transfer or offboarding asked for a rotation. A rotation moves the due
  date, so the next lapse is a new state and alerts again.
* ``expiring``: the expiry date (a renewed certificate with a new date alerts again).
* ``rotation_escalation``: the overdue state's key plus the week of lateness (``2026-03-01:w2``),
  so escalation restarts with each new lapse rather than colliding with the previous one's weeks.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from nhi.models import NhiAlert, NonHumanIdentity
from soc2hub.notifications import members_of, notify, security_people
from soc2hub.services import activity_record

ROTATION_OVERDUE = "rotation_overdue"
EXPIRING = "expiring"
ESCALATION = "rotation_escalation"
ESCALATE_AFTER_DAYS = 7
LISTED = 50  # identities named in one message; the link shows the rest


@dataclass
class Owed:
    nhi: NonHumanIdentity
    kind: str
    key: str
    days: int  # days overdue (rotation) or days left (expiry)


def rotation_key(nhi: NonHumanIdentity) -> str:
    if nhi.rotation_required:
        return "required"
    if nhi.last_rotated_on is None:
        return "never"
    return nhi.rotation_due_on.isoformat()


def _overdue_since(nhi: NonHumanIdentity, key: str, first_alerted: dt.date | None) -> dt.date | None:
    """When the identity became late. A dated lapse is late from its due date; a never-rotated
    one from its creation plus its interval; otherwise (no creation date, or a rotation asked
    for by a transfer) from the day its owners were first told."""
    if key not in ("never", "required"):
        return nhi.rotation_due_on
    if key == "never" and nhi.created_on and nhi.rotation_interval_days:
        return nhi.created_on + dt.timedelta(days=nhi.rotation_interval_days)
    return first_alerted


def _owed(candidates, sent: dict, as_of: dt.date) -> tuple[list[Owed], list[Owed]]:
    alerts, escalations = [], []
    for nhi in candidates:
        if nhi.is_rotation_overdue:
            key = rotation_key(nhi)
            first = sent.get((nhi.pk, ROTATION_OVERDUE, key))
            since = _overdue_since(nhi, key, timezone.localdate(first) if first else None)
            late = (as_of - since).days if since else 0
            if first is None:
                alerts.append(Owed(nhi, ROTATION_OVERDUE, key, late))
            if late > ESCALATE_AFTER_DAYS:
                week_key = f"{key}:w{(late - 1) // 7}"
                if (nhi.pk, ESCALATION, week_key) not in sent:
                    escalations.append(Owed(nhi, ESCALATION, week_key, late))
        if nhi.is_expiring_soon:
            key = nhi.expires_on.isoformat()
            if (nhi.pk, EXPIRING, key) not in sent:
                alerts.append(Owed(nhi, EXPIRING, key, (nhi.expires_on - as_of).days))
    return alerts, escalations


def _claim_and_send(owed: list[Owed], send) -> list[Owed]:
    """Insert the alert rows and send the one message about them, in one transaction.

    Why not ``bulk_create(ignore_conflicts=True)``: it does not say which rows were new, so a
    run racing another could mail identities the other already mailed. Why not a savepoint per
    identity every time: that is three queries per alert on a day with thousands. So the caller
    first drops the keys it read as sent, and the rest go in with one plain ``bulk_create``; only
    if another run committed some of them in between (IntegrityError, the block rolls back and
    nothing was sent) do we fall back to claiming row by row, each in a savepoint, and send
    about the rows we won.
    """
    try:
        with transaction.atomic():
            NhiAlert.objects.bulk_create([NhiAlert(nhi=o.nhi, kind=o.kind, key=o.key) for o in owed])
            send(owed)
        return owed
    except IntegrityError:
        pass
    with transaction.atomic():
        won = []
        for o in owed:
            try:
                with transaction.atomic():
                    NhiAlert.objects.create(nhi=o.nhi, kind=o.kind, key=o.key)
                won.append(o)
            except IntegrityError:
                continue
        if won:
            send(won)
    return won


def _by_team(owed: list[Owed]) -> dict:
    grouped = defaultdict(list)
    for o in owed:
        grouped[o.nhi.owner_team_id].append(o)
    return grouped


def nhi_alerts_send(*, as_of: dt.date) -> dict:
    """Notify each owner team once about its newly overdue or expiring identities (identities
    without an owner team go to Security) and escalate week by week what is overdue by more
    than a week. Safe to run twice or concurrently: the NhiAlert constraint decides."""
    due = (NonHumanIdentity.objects.with_state(as_of)
           .filter(Q(is_rotation_overdue=True) | Q(is_expiring_soon=True)))
    candidates = list(due.select_related("owner_team__lead").order_by("owner_team_id", "name", "pk"))
    if not candidates:
        return {"checked": 0, "alerted": 0, "escalated": 0, "messages": 0}

    # What was already sent, read once. Escalation rows pile up a week at a time, and only one
    # sent in the last week can carry this week's key, so older ones stay in the table; if one
    # slipped through (a run for a past day), the constraint still refuses the duplicate.
    recent = timezone.now() - dt.timedelta(days=8)
    sent = {(nhi_id, kind, key): sent_at for nhi_id, kind, key, sent_at in
            NhiAlert.objects.filter(nhi__in=due.values("pk"))
            .filter(~Q(kind=ESCALATION) | Q(sent_at__gte=recent))
            .values_list("nhi_id", "kind", "key", "sent_at")}
    alerts, escalations = _owed(candidates, sent, as_of)

    security = []
    if any(o.nhi.owner_team_id is None for o in alerts + escalations) or escalations:
        security = security_people()
    messages = alerted = escalated = 0
    for owed in _by_team(alerts).values():
        team = owed[0].nhi.owner_team
        people = members_of(team) if team else security

        def send(claimed, team=team, people=people):
            _notify_team(team, claimed, people, as_of)

        won = _claim_and_send(owed, send)
        alerted += len({o.nhi.pk for o in won})
        messages += bool(won)
    for owed in _by_team(escalations).values():
        team = owed[0].nhi.owner_team
        people = [team.lead, *security] if team else security

        def send(claimed, team=team, people=people):
            _escalate(team, claimed, people, as_of)

        won = _claim_and_send(owed, send)
        escalated += len(won)
        messages += bool(won)
    return {"checked": len(candidates), "alerted": alerted, "escalated": escalated, "messages": messages}


def _listing(owed: list[Owed]) -> tuple[list[Owed], int]:
    return owed[:LISTED], max(0, len(owed) - LISTED)


def _notify_team(team, claimed: list[Owed], people, as_of: dt.date) -> None:
    overdue = [o for o in claimed if o.kind == ROTATION_OVERDUE]
    expiring = sorted((o for o in claimed if o.kind == EXPIRING), key=lambda o: o.days)
    count = len({o.nhi.pk for o in claimed})
    identities = f"{count} non-human identit{'y' if count == 1 else 'ies'}"
    subject = (f"{team.name}: {identities} to rotate or renew" if team
               else f"Security: {identities} without an owner team to rotate or renew")
    url = f"/nhi/?team={team.slug}" if team else "/nhi/?orphaned=true"
    overdue_listed, overdue_more = _listing(overdue)
    expiring_listed, expiring_more = _listing(expiring)
    sent_to = notify(users=people, kind="nhi.alert", subject=subject, template="nhi_alert",
                     context={"team": team, "as_of": as_of, "overdue": overdue_listed, "overdue_more": overdue_more,
                              "expiring": expiring_listed, "expiring_more": expiring_more},
                     url=url)
    activity_record(actor=None, verb="nhi.alerted", obj=team, message=subject,
                    after={"to": [u.username for u in sent_to],
                           "alerts": [[o.nhi.pk, o.kind, o.key] for o in claimed]})


def _escalate(team, claimed: list[Owed], people, as_of: dt.date) -> None:
    claimed = sorted(claimed, key=lambda o: -o.days)
    identities = f"{len(claimed)} non-human identit{'y' if len(claimed) == 1 else 'ies'}"
    late = f"overdue for rotation by more than {ESCALATE_AFTER_DAYS} days"
    subject = (f"Escalation: {team.name} has {identities} {late}" if team
               else f"Escalation: {identities} without an owner team {late}")
    listed, more = _listing(claimed)
    sent_to = notify(users=people, kind="nhi.escalation", subject=subject, template="nhi_escalation",
                     context={"team": team, "as_of": as_of, "overdue": listed, "more": more},
                     url=f"/nhi/?team={team.slug}&overdue=true" if team else "/nhi/?orphaned=true&overdue=true")
    activity_record(actor=None, verb="nhi.escalated", obj=team, message=subject,
                    after={"to": [u.username for u in sent_to],
                           "alerts": [[o.nhi.pk, o.kind, o.key] for o in claimed]})
