"""Attestation campaigns: Security asks each owner team to confirm that every one of its
non-human identities is still needed (with its scopes) or should be revoked; on close the
results become evidence (CC6.2/CC6.3) as a CSV with its SHA-256.

Identities without an owner team are Security's to confirm: their items carry no team, and
Security's reminders cover them together with the Security team's own identities.
"""

import csv
import datetime as dt
import hashlib
import io
from collections import Counter, defaultdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.text import slugify

from evidence.models import EvidenceRequest, ReminderKind, RequestStatus
from evidence.services import evidence_submit_generated
from nhi.export import safe_cell
from nhi.models import (
    LIVE_STATUSES,
    AttestationCampaign,
    AttestationDecision,
    AttestationItem,
    CampaignReminder,
    CampaignStatus,
    Environment,
    NhiKind,
    NonHumanIdentity,
)
from soc2hub import permissions
from soc2hub.models import Team, TeamFunction, User
from soc2hub.notifications import members_of, notify, security_people
from soc2hub.services import activity_record

CSV_HEADER = ["identity", "kind", "external_id", "environment", "owner_team", "decision", "scopes_confirmed",
              "decided_by", "decided_at", "comment"]
NO_TEAM = "none (Security)"
DECISION_IN_CSV = {AttestationDecision.KEEP: "keep", AttestationDecision.REVOKE: "revoke",
                   AttestationDecision.PENDING: "not confirmed"}


# --- opening -----------------------------------------------------------------------------------

def _check_choices(values, choices, field: str) -> list[str]:
    values = list(values or ())
    unknown = sorted(set(values) - set(choices.values))
    if unknown:
        raise ValidationError({field: f"Unknown: {', '.join(unknown)}."})
    return values


@transaction.atomic
def campaign_open(*, actor, name: str, due_on: dt.date, kinds=(), teams=(), environments=(),
                  evidence_request: EvidenceRequest | None = None) -> AttestationCampaign:
    """Open a campaign over every live identity matching the filters (empty: all), one item per
    identity, and tell each owner team's members once."""
    permissions.require(actor, permissions.ADD, AttestationCampaign)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the campaign, e.g. “Q3 2026 access review”."})
    if due_on is None or due_on <= timezone.localdate():
        raise ValidationError({"due_on": "The due date must be in the future."})
    kinds = _check_choices(kinds, NhiKind, "kinds")
    environments = _check_choices(environments, Environment, "environments")
    teams = list(teams or ())
    if evidence_request is not None and evidence_request.status == RequestStatus.APPROVED:
        raise ValidationError({"evidence_request": f"{evidence_request} is already approved; the results could not "
                                                   "be attached to it."})

    scope = NonHumanIdentity.objects.filter(status__in=LIVE_STATUSES)
    if kinds:
        scope = scope.filter(kind__in=kinds)
    if environments:
        scope = scope.filter(environment__in=environments)
    if teams:
        scope = scope.filter(owner_team__in=teams)
    in_scope = list(scope.order_by("pk").values_list("pk", "owner_team_id"))
    if not in_scope:
        raise ValidationError("No live identity matches this scope; there is nothing to confirm.")

    campaign = AttestationCampaign.objects.create(name=name, due_on=due_on, kinds=kinds, environments=environments,
                                                  evidence_request=evidence_request, created_by=actor)
    campaign.teams.set(teams)
    AttestationItem.objects.bulk_create(
        [AttestationItem(campaign=campaign, nhi_id=nhi_id, owner_team_id=team_id) for nhi_id, team_id in in_scope],
        batch_size=2000,
    )

    per_team = Counter(team_id for _, team_id in in_scope)
    team_names = dict(Team.objects.filter(pk__in=[pk for pk in per_team if pk]).values_list("pk", "name"))
    counts = sorted(((team_names[pk], n) for pk, n in per_team.items() if pk), key=lambda pair: pair[0])
    unowned = per_team.get(None, 0)
    people = list(User.objects.filter(memberships__team_id__in=list(team_names), is_active=True).distinct())
    if unowned:
        people += security_people()
    # One call, so a person in two owner teams (or in Security too) hears about it once. The mail
    # goes after commit: a mail server that is down must not stop Security opening the campaign.
    notify(users=people, kind="nhi.campaign_opened",
           subject=f"Confirm your non-human identities by {due_on:%d %b %Y}: {campaign.name}",
           template="campaign_opened",
           context={"campaign": campaign, "counts": counts, "unowned": unowned, "total": len(in_scope)},
           url=campaign.get_absolute_url())
    activity_record(actor=actor, verb="campaign.opened", obj=campaign,
                    after={"items": len(in_scope), "teams": dict(counts), "unowned": unowned,
                           "due_on": due_on.isoformat(), "kinds": kinds, "environments": environments,
                           "team_filter": [t.pk for t in teams],
                           "evidence_request": evidence_request.pk if evidence_request else None})
    return campaign


# --- attesting ---------------------------------------------------------------------------------

@transaction.atomic
def item_attest(*, item: AttestationItem, actor, decision: str, scopes_confirmed: bool,
                comment: str = "") -> AttestationItem:
    """The owner team confirms one identity (``keep``, with its scopes confirmed) or marks it for
    revocation (``revoke``, saying why). Deciding again replaces the earlier decision."""
    # Locking the campaign row makes a decision and the close take turns: no decision can land
    # after the results were written.
    item = AttestationItem.objects.select_for_update(of=("self",)).select_related("nhi").get(pk=item.pk)
    campaign = AttestationCampaign.objects.select_for_update().get(pk=item.campaign_id)
    permissions.require(actor, permissions.ATTEST, item)
    if campaign.status != CampaignStatus.OPEN:
        raise ValidationError(f"The campaign “{campaign}” is closed; its results are final.")
    comment = (comment or "").replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    if decision == AttestationDecision.KEEP:
        if not scopes_confirmed:
            raise ValidationError({"scopes_confirmed": "Confirm that its privileges and scopes are still what it "
                                                       "needs before keeping it."})
        if item.nhi.status not in LIVE_STATUSES:
            raise ValidationError(f"{item.nhi} is already {item.nhi.get_status_display().lower()}; "
                                  "it cannot be kept.")
    elif decision == AttestationDecision.REVOKE:
        if not comment:
            raise ValidationError({"comment": "Say why it should be revoked; it goes on the record."})
    else:
        raise ValidationError({"decision": "Choose “still needed” or “revoke it”."})

    before = {"decision": item.decision, "scopes_confirmed": item.scopes_confirmed,
              "decided_by": item.decided_by_id, "comment": item.comment}
    item.decision, item.scopes_confirmed, item.comment = decision, bool(scopes_confirmed), comment
    item.decided_by, item.decided_at = actor, timezone.now()
    item.save(update_fields=["decision", "scopes_confirmed", "comment", "decided_by", "decided_at"])
    activity_record(actor=actor, verb="attestation.decided", obj=item.nhi, before=before,
                    after={"campaign": campaign.pk, "campaign_name": campaign.name, "item": item.pk,
                           "decision": decision, "scopes_confirmed": item.scopes_confirmed},
                    message=comment)
    return item


# --- closing -----------------------------------------------------------------------------------

def csv_safe(value) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (the inventory export's rule);
    NUL bytes, which would make the file binary, are dropped."""
    return safe_cell("" if value is None else str(value).replace("\x00", ""))


def campaign_results_csv(campaign: AttestationCampaign) -> bytes:
    """The campaign's results, one row per identity; pending items are "not confirmed"."""
    items = (campaign.items.select_related("nhi", "owner_team", "decided_by").order_by("nhi__name", "nhi_id"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    tz = timezone.get_current_timezone()
    for item in items.iterator(chunk_size=2000):
        pending = item.decision == AttestationDecision.PENDING
        person = item.decided_by
        writer.writerow([csv_safe(value) for value in (
            item.nhi.name,
            item.nhi.get_kind_display(),
            item.nhi.external_id,
            item.nhi.get_environment_display(),
            item.owner_team.name if item.owner_team else NO_TEAM,
            DECISION_IN_CSV[item.decision],
            "" if pending else ("yes" if item.scopes_confirmed else "no"),
            "" if pending or person is None else (f"{person.get_full_name()} ({person.username})"
                                                  if person.get_full_name() else person.username),
            "" if pending or item.decided_at is None else item.decided_at.astimezone(tz).isoformat(timespec="seconds"),
            item.comment,
        )])
    return buffer.getvalue().encode("utf-8")


@transaction.atomic
def campaign_close(*, campaign: AttestationCampaign, actor) -> AttestationCampaign:
    """Close the campaign: write its results as a CSV, keep its SHA-256, and submit it to the
    linked evidence request (if any) for review. All or nothing."""
    permissions.require(actor, permissions.CLOSE, campaign)
    campaign = AttestationCampaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.OPEN:
        raise ValidationError(f"The campaign “{campaign}” is already closed.")
    counts = dict(campaign.items.values_list("decision").annotate(n=Count("pk")).order_by())
    summary = {decision.value: counts.get(decision.value, 0) for decision in AttestationDecision}
    content = campaign_results_csv(campaign)
    sha256 = hashlib.sha256(content).hexdigest()
    now = timezone.now()

    campaign.status, campaign.closed_at, campaign.result_sha256 = CampaignStatus.CLOSED, now, sha256
    campaign.save(update_fields=["status", "closed_at", "result_sha256"])

    evidence = None
    if campaign.evidence_request_id:
        name = f"attestation-{slugify(campaign.name)[:80] or campaign.pk}-{timezone.localdate():%Y-%m-%d}.csv"
        note = (f"Attestation campaign “{campaign.name}” (due {campaign.due_on:%d %b %Y}), closed "
                f"{timezone.localdate():%d %b %Y}: {sum(summary.values())} identities — "
                f"{summary['keep']} still needed, {summary['revoke']} to revoke, "
                f"{summary['pending']} not confirmed. SHA-256 {sha256}.")
        # Last but the log line: it removes its own file if it fails, and we remove it below if
        # the log line does, so a refused close leaves no stray file behind.
        evidence = evidence_submit_generated(request=campaign.evidence_request, actor=actor, name=name,
                                             content=content, note=note)
    stored = [f.file for f in evidence.files.all()] if evidence is not None else []
    try:
        activity_record(actor=actor, verb="campaign.closed", obj=campaign, before={"status": CampaignStatus.OPEN},
                        after={"status": CampaignStatus.CLOSED, "sha256": sha256, "items": summary,
                               "evidence": evidence.pk if evidence else None,
                               "evidence_request": campaign.evidence_request_id})
    except Exception:
        for field_file in stored:
            field_file.storage.delete(field_file.name)
        raise
    return campaign


# --- reminders and escalation ------------------------------------------------------------------

def _reminder_owed(due_on: dt.date, as_of: dt.date) -> tuple[str, int] | None:
    """The same rhythm as evidence requests: the nearest configured day before the due date,
    the due day itself, then each week of lateness."""
    days_left = (due_on - as_of).days
    if days_left > 0:
        thresholds = [d for d in settings.EVIDENCE_REMINDER_DAYS if d >= days_left]
        return (ReminderKind.BEFORE_DUE, min(thresholds)) if thresholds else None
    if days_left == 0:
        return ReminderKind.DUE_TODAY, 0
    return ReminderKind.ESCALATION, (-days_left - 1) // 7


def _send_campaign_reminder(campaign, team: Team, pending: int, unowned: int, kind: str, key: int,
                            as_of: dt.date) -> bool:
    """Claim the reminder by inserting its row, then notify, in one transaction: a second run
    (or a concurrent worker) hits the unique constraint and sends nothing."""
    security_list = team.function == TeamFunction.SECURITY
    if kind == ReminderKind.ESCALATION:
        people = [team.lead, *security_people()]
        subject = f"Overdue: {team.name} has {pending} identit{'y' if pending == 1 else 'ies'} to confirm in {campaign}"
        template = "campaign_escalation"
    else:
        people = members_of(team) + (security_people() if security_list else [])
        days = (campaign.due_on - as_of).days
        subject = (f"Due today: {campaign}" if kind == ReminderKind.DUE_TODAY
                   else f"Due in {days} day{'s' if days != 1 else ''}: {campaign}")
        template = "campaign_reminder"
    try:
        with transaction.atomic():
            CampaignReminder.objects.create(campaign=campaign, team=team, kind=kind, key=key)
            sent_to = notify(users=people, kind=f"nhi.campaign_{kind}", subject=subject, template=template,
                             context={"campaign": campaign, "team": team, "pending": pending, "unowned": unowned,
                                      "days_overdue": (as_of - campaign.due_on).days},
                             url=campaign.get_absolute_url() + "?pending=1")
            activity_record(actor=None, verb=f"campaign.{kind}", obj=campaign,
                            after={"team": team.slug, "key": key, "pending": pending,
                                   "to": [u.username for u in sent_to]}, message=subject)
        return True
    except IntegrityError:
        return False  # already sent by another run


def campaign_reminders_send(*, as_of: dt.date) -> dict:
    """Remind each team with unconfirmed identities before the due date and on it, then escalate
    to its lead and Security weekly while the campaign is overdue. Items without an owner team
    are on Security's list, reminded under the Security team."""
    horizon = as_of + dt.timedelta(days=max(settings.EVIDENCE_REMINDER_DAYS, default=0))
    campaigns = {c.pk: c for c in AttestationCampaign.objects.filter(status=CampaignStatus.OPEN, due_on__lte=horizon)}
    if not campaigns:
        return {"campaigns": 0}
    security_team = Team.objects.filter(function=TeamFunction.SECURITY).select_related("lead").order_by("pk").first()
    pending = defaultdict(lambda: [0, 0])  # (campaign, team) -> [pending items, of which without an owner team]
    for campaign_id, team_id, n in (AttestationItem.objects
                                    .filter(campaign_id__in=list(campaigns), decision=AttestationDecision.PENDING)
                                    .values_list("campaign_id", "owner_team_id").annotate(n=Count("pk")).order_by()):
        if team_id is None:
            if security_team is None:
                continue  # nobody to key Security's list on; Security sees it on the campaign page
            pending[(campaign_id, security_team.pk)][0] += n
            pending[(campaign_id, security_team.pk)][1] += n
        else:
            pending[(campaign_id, team_id)][0] += n
    teams = {t.pk: t for t in Team.objects.filter(pk__in={team_id for _, team_id in pending}).select_related("lead")}
    already = set(CampaignReminder.objects.filter(campaign_id__in=list(campaigns))
                  .values_list("campaign_id", "team_id", "kind", "key"))
    sent: Counter = Counter()
    for (campaign_id, team_id), (count, unowned) in sorted(pending.items()):
        campaign = campaigns[campaign_id]
        owed = _reminder_owed(campaign.due_on, as_of)
        if owed is None or (campaign_id, team_id, *owed) in already:
            continue
        if _send_campaign_reminder(campaign, teams[team_id], count, unowned, *owed, as_of):
            sent[owed[0]] += 1
    return {"campaigns": len(campaigns), **{f"sent_{kind}": n for kind, n in sent.items()}}

