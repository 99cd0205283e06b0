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

Segregation of duties: whoever approves, signs, recommends or accepts something must be
independent of it (see ``conflict_of_interest``).
"""

from collections.abc import Callable
from functools import reduce
from operator import or_

from axes.models import AccessAttempt
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from guardian.shortcuts import get_objects_for_user
from rest_framework import permissions as drf_permissions

from django.utils import timezone

from audits.models import Audit, AuditorAccess, AuditRequest, AuditSample, AuditStatus, ReportJob
from controls.models import Control, Criterion
from evidence.models import CalendarFeed, Evidence, EvidenceFile, EvidenceRequest, EvidenceStatus, EvidenceTemplate
from exceptions.models import ExceptionRecord
from exceptions.signers import required_signer_roles, signer_roles_of
from nhi.models import AttestationCampaign, AttestationItem, NhiImport, NonHumanIdentity
from soc2hub.models import ActivityLog, JobRun, Membership, Notification, Team, User

VIEW = "view"
ADD = "add"
CHANGE = "change"
CHANGE_OWNERS = "change_owners"
MANAGE = "manage"
SUBMIT = "submit"
REVIEW = "review"
DOWNLOAD = "download"
SIGN = "sign"
ROTATE = "rotate"
TRANSFER = "transfer"
IMPORT = "import"
OFFBOARD = "offboard"
ATTEST = "attest"
SUBMIT_GENERATED = "submit_generated"
REVOKE = "revoke"
CLOSE = "close"
RAISE_REQUEST = "raise_request"
DECIDE = "decide"
COMMENT = "comment"
SAMPLE = "sample"
REPORT = "report"
VIEW_COVERAGE = "view_coverage"


class Denied(str):
    """A refusal with its reason: falsy like ``False``, and ``require`` shows the reason."""

    def __bool__(self):
        return False


def _signed_in(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def _security(user) -> bool:
    return _signed_in(user) and user.is_security


def _external_auditor(user) -> bool:
    return _signed_in(user) and user.is_external_auditor


def _catalog_view(user, obj) -> bool:
    """Criteria, controls and teams: everyone signed in reads the programme's structure, except
    external auditors, who read it only through their audits (see ``_audit_view``)."""
    if _external_auditor(user):
        return Denied("Auditors see the programme through their audits.")
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


def _team_member(user, team_id) -> bool:
    return _signed_in(user) and team_id in user.team_ids()


def _group_ids(user) -> set[int]:
    if not hasattr(user, "_group_ids"):
        user._group_ids = set(user.groups.values_list("id", flat=True))
    return user._group_ids


def _in_group(user, group_id) -> bool:
    return group_id in _group_ids(user)


# --- segregation of duties ---------------------------------------------------------------------
# Nobody approves, signs, recommends or accepts what their own team requested, or what they
# created, submitted or uploaded. ``stake_in(obj)`` says who has such a stake in a row, and
# why; every approving rule asks ``conflict_of_interest`` (one person) and lists of people who
# are told to act ask ``independent`` (a SQL filter), so both follow the same stake.

class Stake:
    """Who may not judge a row, each with the reason in the product's words: the teams it
    belongs to (``teams``: team id → reason) and the people who made it (``people``)."""

    def __init__(self, *, teams: dict | None = None, people: dict | None = None):
        self.teams: dict[int, str] = {pk: why for pk, why in (teams or {}).items() if pk is not None}
        self.people: dict[int, str] = {pk: why for pk, why in (people or {}).items() if pk is not None}

    def of(self, user) -> str | None:
        """Why ``user`` is not independent, or None. Their team comes first: it is the reason
        most people recognise."""
        for team_id, why in self.teams.items():
            if team_id in user.team_ids():
                return why
        return self.people.get(user.pk)


def _team_clause(team, relation: str) -> dict:
    return {team.pk: f"You are in {team.name}, the team that {relation}"} if team is not None else {}


def _exception_stake(exception) -> Stake:
    """The requesting team, whoever created the exception, and whoever submitted (or changed)
    any of its versions: each version is snapshot by the person who sent it to review."""
    authors = {v.created_by_id for v in exception.versions.all()}
    return Stake(teams=_team_clause(exception.requesting_team, "requested this exception"),
                 people={**{pk: "You submitted this exception" for pk in authors},
                         exception.created_by_id: "You created this exception"})


def _evidence_stake(evidence) -> Stake:
    """The team that owns the request, the submitter and everyone who uploaded one of its files."""
    uploaders = EvidenceFile.objects.filter(evidence=evidence).values_list("uploaded_by_id", flat=True)
    return Stake(teams=_team_clause(evidence.request.owner_team, "owns this evidence request"),
                 people={**{pk: "You uploaded a file of this evidence" for pk in uploaders},
                         evidence.submitted_by_id: "You submitted this evidence"})


def _campaign_stake(campaign) -> Stake:
    """Closing a campaign accepts its attestations: whoever attested an identity in it."""
    attesters = (campaign.items.filter(decided_by__isnull=False).values_list("decided_by_id", flat=True)
                 .distinct().order_by())
    return Stake(people={pk: "You confirmed identities in this campaign" for pk in attesters})


def _audit_request_stake(audit_request) -> Stake:
    """The team answering the request (internal auditors can be in one) and whoever submitted
    or uploaded evidence for it."""
    submissions = Evidence.objects.filter(request_id=audit_request.evidence_request_id)
    uploaders = EvidenceFile.objects.filter(evidence__in=submissions).values_list("uploaded_by_id", flat=True)
    return Stake(teams=_team_clause(audit_request.evidence_request.owner_team, "answers this request"),
                 people={**{pk: "You uploaded evidence for this request" for pk in uploaders},
                         **{pk: "You submitted evidence for this request"
                            for pk in submissions.values_list("submitted_by_id", flat=True)}})


STAKES: dict[type[models.Model], Callable] = {
    ExceptionRecord: _exception_stake,
    Evidence: _evidence_stake,
    AttestationCampaign: _campaign_stake,
    AuditRequest: _audit_request_stake,
}


def stake_in(obj) -> Stake:
    return STAKES[type(obj)](obj)


def conflict_of_interest(user, obj, *, to: str = "approve it") -> Denied | None:
    """Why ``user`` may not judge ``obj`` — its requesting or owning team is theirs, or they
    created, submitted, uploaded or attested it — or None when they are independent of it.
    ``to`` finishes the refusal: "…; someone independent must sign."."""
    why = stake_in(obj).of(user)
    return Denied(f"{why}; someone independent must {to}.") if why else None


def independent(users: models.QuerySet, obj) -> models.QuerySet:
    """The people of ``users`` with no stake in ``obj`` (see ``conflict_of_interest``)."""
    stake = stake_in(obj)
    return users.exclude(pk__in=list(stake.people)).exclude(memberships__team_id__in=list(stake.teams))


def _independent_of(user, obj, to: str) -> bool:
    """True, or the refusal that names the stake (a ``Denied`` is falsy: never ``or`` it)."""
    denied = conflict_of_interest(user, obj, to=to)
    return True if denied is None else denied


def _request_view(user, request) -> bool:
    """An evidence request is seen by its owning team, its reviewers, Security and Leadership,
    and by the current auditors of an audit that covers it (see ``Audit.evidence_request_q``)."""
    if not _signed_in(user):
        return False
    if user.is_security or user.is_leadership:
        return True
    if isinstance(request, type):
        return True  # lists are filtered row by row in restrict()
    return (_team_member(user, request.owner_team_id) or _in_group(user, request.reviewer_group_id)
            or _audited(user, EvidenceRequest.objects.filter(pk=request.pk)))


def _request_submit(user, request) -> bool:
    """Only members of the owning team submit evidence: it comes from the team that runs the control."""
    if isinstance(request, type):
        return False
    return _team_member(user, request.owner_team_id) or Denied(
        "Only members of the team that owns this request can submit evidence for it."
    )


def _evidence_view(user, evidence) -> bool:
    """Evidence is seen with its request; whoever sees it only as an auditor sees approved
    evidence only."""
    if isinstance(evidence, type):
        return _request_view(user, evidence)
    if not _signed_in(user):
        return False
    request = evidence.request
    if (user.is_security or user.is_leadership or _team_member(user, request.owner_team_id)
            or _in_group(user, request.reviewer_group_id)):
        return True
    if _audited(user, EvidenceRequest.objects.filter(pk=request.pk)):
        return evidence.status == EvidenceStatus.APPROVED or Denied("Auditors see approved evidence only.")
    return False


def _evidence_add(user, obj) -> bool:
    """Anyone signed in may try to submit; whether they may submit to *this* request is the
    request's SUBMIT rule, checked by the service."""
    return _signed_in(user)


def _evidence_review(user, evidence) -> bool:
    """Members of the request's reviewing group (Security by default) review evidence,
    independently of it: not its owning team's members, nor whoever submitted or uploaded it."""
    if not _signed_in(user) or isinstance(evidence, type):
        return False
    if not (_in_group(user, evidence.request.reviewer_group_id) or user.is_superuser):
        return Denied("Only the reviewing group for this request can review its evidence.")
    return _independent_of(user, evidence, "review it")


def _file_download(user, evidence_file) -> bool:
    return _evidence_view(user, evidence_file if isinstance(evidence_file, type) else evidence_file.evidence)


# --- audits ------------------------------------------------------------------------------

def current_audit_ids(user) -> set[int]:
    """The audits ``user`` is assigned to and whose access has not ended, while they are in
    the Auditors group: taking someone out of the group ends every assignment at once."""
    if not _signed_in(user) or not user.is_auditor:
        return set()
    if not hasattr(user, "_current_audit_ids"):
        user._current_audit_ids = set(
            user.audit_assignments.filter(access_ends_on__gte=timezone.localdate()).values_list("audit_id", flat=True)
        )
    return user._current_audit_ids


def _audits_of(user) -> list[Audit]:
    if not hasattr(user, "_current_audits"):
        user._current_audits = list(Audit.objects.filter(pk__in=current_audit_ids(user)))
    return user._current_audits


def _audited(user, requests) -> bool:
    """Does one of ``user``'s current audits cover any of these evidence requests?"""
    audits = _audits_of(user)
    return bool(audits) and requests.filter(reduce(or_, (a.evidence_request_q() for a in audits))).exists()


def _auditor_of(user, audit) -> bool:
    return audit.pk in current_audit_ids(user)


def _audit_view(user, audit) -> bool:
    """An audit is seen by Security, Leadership and its auditors until their access ends."""
    if not _signed_in(user):
        return False
    if user.is_security or user.is_leadership:
        return True
    if isinstance(audit, type):
        return user.is_auditor
    if _auditor_of(user, audit):
        return True
    if audit.assignments.filter(user=user).exists():
        return Denied("Your access to this audit has ended.")
    return False


def _audit_auditor_write(user, audit) -> bool:
    """Raise requests, draw samples: the audit's current auditors and Security, until it closes."""
    if isinstance(audit, type) or not _signed_in(user):
        return False
    if not (user.is_security or _auditor_of(user, audit)):
        seen = _audit_view(user, audit)
        return seen if isinstance(seen, Denied) else Denied("Only the audit's auditors and Security can do this.")
    return not audit.is_closed or Denied("This audit is closed.")


def _audit_coverage(user, audit) -> bool:
    """Security and Leadership see the coverage matrix from planning on, so the gaps are
    theirs to find first; the auditors see it once fieldwork starts."""
    seen = _audit_view(user, audit)
    if not seen or isinstance(audit, type):
        return seen
    if user.is_security or user.is_leadership or audit.status != AuditStatus.PLANNING:
        return True
    return Denied("The coverage matrix opens to the auditors when fieldwork starts.")


def _audit_report(user, audit) -> bool:
    """Reports are generated by whoever may see the audit."""
    return not isinstance(audit, type) and _audit_view(user, audit)


def _audit_request_view(user, audit_request) -> bool:
    """An auditor request is seen by whoever sees its audit and by the team answering it."""
    if isinstance(audit_request, type):
        return _signed_in(user)
    return (_audit_view(user, audit_request.audit) is True
            or _team_member(user, audit_request.evidence_request.owner_team_id))


def _audit_request_decide(user, audit_request) -> bool:
    """Accepting or returning an answer is the call of the audit's auditors who are independent
    of it: not in the team answering it, and not among those who submitted its evidence."""
    if isinstance(audit_request, type) or not _auditor_of(user, audit_request.audit):
        return Denied("Only the audit's auditors accept or return its requests.")
    if audit_request.audit.is_closed:
        return Denied("This audit is closed.")
    return _independent_of(user, audit_request, "accept or return it")


def _audit_request_comment(user, audit_request) -> bool:
    """The auditors, Security and the answering team discuss a request."""
    if isinstance(audit_request, type) or not _signed_in(user):
        return False
    if audit_request.audit.is_closed:
        return Denied("This audit is closed.")
    return (user.is_security or _auditor_of(user, audit_request.audit)
            or _team_member(user, audit_request.evidence_request.owner_team_id))


def _audit_child_view(user, obj) -> bool:
    """Samples and reports belong to their audit: whoever sees the audit sees them."""
    if isinstance(obj, type):
        return _audit_view(user, Audit)
    return _audit_view(user, obj.audit)


def _security_only(user, obj) -> bool:
    """Security alone: evidence standards, imports, attestation campaigns, offboarding people."""
    return _security(user)


def _calendar_manage(user, feed) -> bool:
    """A team's members (and Security) create and revoke its calendar links."""
    if _security(user):
        return True
    return not isinstance(feed, type) and _team_member(user, feed.team_id)


def _campaign_close(user, campaign) -> bool:
    """Security closes a campaign, which accepts its attestations: not someone who attested in it."""
    if not _security(user):
        return False
    return isinstance(campaign, type) or _independent_of(user, campaign, "close it")


def _own_notification(user, notification) -> bool:
    return _signed_in(user) and (isinstance(notification, type) or notification.user_id == user.pk)


def _exception_view(user, exception) -> bool:
    """Exceptions are seen by Security, Leadership, Finance (it signs access exceptions), the
    requesting team and the business owner's team."""
    if not _signed_in(user):
        return False
    if user.is_security or user.is_leadership or isinstance(exception, type):
        return True
    return bool(signer_roles_of(user)) or bool(
        {exception.requesting_team_id, exception.business_owner_id} & user.team_ids()
    )


def _exception_add(user, obj) -> bool:
    """Any team member requests an exception for their own team; Security for any team."""
    return _signed_in(user) and (user.is_security or bool(user.team_ids()))


def _exception_requester(user, exception) -> bool:
    """The requesting team (and Security) edit, submit and close their exception."""
    if _security(user):
        return True
    if isinstance(exception, type):
        return False
    return _team_member(user, exception.requesting_team_id) or Denied(
        "Only the requesting team or Security can do this."
    )


def _exception_review(user, exception) -> bool:
    """Security reviews and recommends, independently of the exception: not from the
    requesting team, nor the person who created or submitted it."""
    if not _security(user):
        return False
    return isinstance(exception, type) or _independent_of(user, exception, "recommend")


def _exception_sign(user, exception) -> bool:
    """A person holding one of the signer roles this exception's type requires, independent of
    it: not in the requesting team, and not the person who created or submitted it."""
    if isinstance(exception, type) or not _signed_in(user):
        return False
    if not set(required_signer_roles(exception)) & signer_roles_of(user):
        return Denied(f"You are not a required signer for {exception.get_type_display().lower()} exceptions.")
    return _independent_of(user, exception, "sign")


def _exception_revoke(user, exception) -> bool:
    """Security or Leadership may revoke an exception."""
    return _signed_in(user) and (user.is_security or user.is_leadership)


def _nhi_view(user, nhi) -> bool:
    """Identities are seen by their owner team, Security and Leadership; auditors see the
    inventory summary of their audit."""
    if not _signed_in(user) or _external_auditor(user):
        return False
    if user.is_security or user.is_leadership or isinstance(nhi, type):
        return True
    return _team_member(user, nhi.owner_team_id)


def _nhi_add(user, obj) -> bool:
    """Team members register identities for their team; Security for any team."""
    return _signed_in(user) and (user.is_security or bool(user.team_ids()))


def _nhi_owner(user, nhi) -> bool:
    """The owner team (and Security) edit, rotate, revoke and transfer an identity."""
    if _security(user):
        return True
    if isinstance(nhi, type) or not _signed_in(user):
        return False
    return _team_member(user, nhi.owner_team_id) or Denied("Only the owning team or Security can do this.")


def _attest(user, item) -> bool:
    """An identity's owner team confirms it in a campaign (Security may too)."""
    if _security(user):
        return True
    if isinstance(item, type) or not _signed_in(user):
        return False
    return _team_member(user, item.owner_team_id) or Denied("Only the identity's owner team confirms it.")


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
    (EvidenceTemplate, VIEW): _catalog_view,
    (EvidenceTemplate, ADD): _security_only,
    (EvidenceTemplate, CHANGE): _security_only,
    (EvidenceRequest, VIEW): _request_view,
    (EvidenceRequest, SUBMIT): _request_submit,
    (EvidenceRequest, SUBMIT_GENERATED): _security_only,
    (Evidence, VIEW): _evidence_view,
    (Evidence, ADD): _evidence_add,
    (Evidence, REVIEW): _evidence_review,
    (EvidenceFile, DOWNLOAD): _file_download,
    (CalendarFeed, MANAGE): _calendar_manage,
    (ExceptionRecord, VIEW): _exception_view,
    (ExceptionRecord, ADD): _exception_add,
    (ExceptionRecord, CHANGE): _exception_requester,
    (ExceptionRecord, SUBMIT): _exception_requester,
    (ExceptionRecord, CLOSE): _exception_requester,
    (ExceptionRecord, REVIEW): _exception_review,
    (ExceptionRecord, SIGN): _exception_sign,
    (ExceptionRecord, REVOKE): _exception_revoke,
    (NonHumanIdentity, VIEW): _nhi_view,
    (NonHumanIdentity, ADD): _nhi_add,
    (NonHumanIdentity, CHANGE): _nhi_owner,
    (NonHumanIdentity, ROTATE): _nhi_owner,
    (NonHumanIdentity, REVOKE): _nhi_owner,
    (NonHumanIdentity, TRANSFER): _nhi_owner,
    (NhiImport, VIEW): _security_only,
    (NhiImport, ADD): _security_only,
    # No independence here: applying an import loads data its uploader checked, it approves
    # nothing; each identity is then confirmed by its owner team in an attestation campaign.
    (NhiImport, IMPORT): _security_only,
    (AttestationCampaign, VIEW): _catalog_view,
    (AttestationCampaign, ADD): _security_only,
    (AttestationCampaign, CLOSE): _campaign_close,
    (AttestationItem, ATTEST): _attest,
    (User, OFFBOARD): _security_only,
    (AccessAttempt, MANAGE): _security_only,  # sign-in lockouts: see and lift them
    (JobRun, VIEW): _security_only,  # the daily jobs' runs, their figures and errors
    (Audit, VIEW): _audit_view,
    (Audit, ADD): _security_only,
    (Audit, CHANGE): _security_only,
    (Audit, MANAGE): _security_only,
    (Audit, RAISE_REQUEST): _audit_auditor_write,
    (Audit, SAMPLE): _audit_auditor_write,
    (Audit, REPORT): _audit_report,
    (Audit, VIEW_COVERAGE): _audit_coverage,
    (AuditRequest, VIEW): _audit_request_view,
    (AuditRequest, DECIDE): _audit_request_decide,
    (AuditRequest, COMMENT): _audit_request_comment,
    (AuditSample, VIEW): _audit_child_view,
    (ReportJob, VIEW): _audit_child_view,
    (ReportJob, DOWNLOAD): _audit_child_view,
    (AuditorAccess, VIEW): _security_only,
    (Notification, VIEW): _own_notification,
    (Notification, CHANGE): _own_notification,
}


def _model_of(obj) -> type[models.Model]:
    return obj if isinstance(obj, type) else type(obj)


def can(user, action: str, obj) -> bool:
    rule = RULES.get((_model_of(obj), action))
    return bool(rule and rule(user, obj))


def refusal(user, action: str, obj) -> str:
    """The reason the rule gives for refusing, for a page to show instead of the button; "" when
    it allows, or refuses without a reason (the person has no business there at all)."""
    rule = RULES.get((_model_of(obj), action))
    verdict = rule(user, obj) if rule else False
    return str(verdict) if isinstance(verdict, Denied) else ""


def require(user, action: str, obj) -> None:
    rule = RULES.get((_model_of(obj), action))
    verdict = rule(user, obj) if rule else False
    if not verdict:
        raise PermissionDenied(
            verdict if isinstance(verdict, Denied)
            else f"You may not {action.replace('_', ' ')} this {_model_of(obj)._meta.verbose_name}."
        )


def _scope_delegated_controls(queryset, user):
    if user.is_security:
        return queryset
    delegated = get_objects_for_user(user, "controls.change_control", klass=Control, accept_global_perms=False)
    return queryset.filter(pk__in=delegated.values("pk"))


def _scope_managed_teams(queryset, user):
    if user.is_security:
        return queryset
    granted = get_objects_for_user(user, "soc2hub.manage_team", klass=Team, accept_global_perms=False)
    return queryset.filter(Q(lead=user) | Q(pk__in=granted.values("pk")))


def _my_team_ids(user):
    return Membership.objects.filter(user=user).values("team_id")


def _scope_requests(path: str, evidence_path: str | None = None):
    """Rows tied to evidence requests the user may see (see ``_request_view``); for auditors,
    the requests their current audits cover, and of those only approved evidence
    (``evidence_path`` names the row's evidence status, when it has one)."""

    def scope(queryset, user):
        if user.is_security or user.is_leadership:
            return queryset
        mine = Q(owner_team_id__in=_my_team_ids(user))
        group_ids = _group_ids(user)
        if group_ids:  # most people review nothing: keep their filter on the indexed team column
            security_group = Q(template__isnull=True) if _in_group(user, _security_group_id()) else Q(pk__in=[])
            mine |= Q(template__reviewer_group_id__in=group_ids) | security_group
        visible = Q(**{f"{path}__in": EvidenceRequest.objects.filter(mine).values("pk")})
        audits = _audits_of(user)
        if audits:
            # What the user sees only as an auditor: approved evidence of the requests their audits cover.
            audited = Q(**{f"{path}__in": EvidenceRequest.objects.filter(
                reduce(or_, (a.evidence_request_q() for a in audits))).values("pk")})
            if evidence_path:
                audited &= Q(**{evidence_path: EvidenceStatus.APPROVED})
            visible |= audited
        return queryset.filter(visible)

    return scope


def _security_group_id() -> int | None:
    from evidence.models import default_reviewer_group

    return default_reviewer_group()


def _scope_review_queue(queryset, user):
    """Pending evidence the user may review (see ``_evidence_review``): none of their own team's
    requests, and nothing they submitted or uploaded."""
    queryset = (queryset.filter(status=EvidenceStatus.PENDING).exclude(submitted_by=user)
                .exclude(files__uploaded_by=user).exclude(request__owner_team_id__in=_my_team_ids(user)))
    if user.is_superuser:
        return queryset
    mine = Q(request__template__reviewer_group_id__in=user.groups.values("id"))
    if _in_group(user, _security_group_id()):
        mine |= Q(request__template__isnull=True)  # auditors' requests are reviewed by Security
    return queryset.filter(mine)


def _scope_audits(queryset, user):
    if user.is_security or user.is_leadership:
        return queryset
    return queryset.filter(pk__in=current_audit_ids(user))


def _scope_audit_children(queryset, user):
    if user.is_security or user.is_leadership:
        return queryset
    return queryset.filter(audit_id__in=current_audit_ids(user))


def _scope_audit_requests(queryset, user):
    if user.is_security or user.is_leadership:
        return queryset
    return queryset.filter(Q(audit_id__in=current_audit_ids(user))
                           | Q(evidence_request__owner_team_id__in=_my_team_ids(user)))


def _scope_exceptions(queryset, user):
    if user.is_security or user.is_leadership or signer_roles_of(user):
        return queryset
    mine = _my_team_ids(user)
    return queryset.filter(Q(requesting_team_id__in=mine) | Q(business_owner_id__in=mine))


def _scope_nhis(queryset, user):
    if user.is_security or user.is_leadership:
        return queryset
    return queryset.filter(owner_team_id__in=_my_team_ids(user))


def _scope_attestation_items(queryset, user):
    return queryset if user.is_security else queryset.filter(owner_team_id__in=_my_team_ids(user))


def _scope_own(queryset, user):
    return queryset.filter(user=user)


def _scope_team_feeds(queryset, user):
    return queryset if user.is_security else queryset.filter(team_id__in=_my_team_ids(user))


# Row filters for the (model, action) pairs whose answer differs row by row; every other
# pair is all-or-nothing and follows RULES.
SCOPES: dict[tuple[type[models.Model], str], Callable] = {
    (Control, CHANGE): _scope_delegated_controls,
    (Team, MANAGE): _scope_managed_teams,
    (EvidenceRequest, VIEW): _scope_requests("pk"),
    (Evidence, VIEW): _scope_requests("request_id", "status"),
    (EvidenceFile, DOWNLOAD): _scope_requests("evidence__request_id", "evidence__status"),
    (Evidence, REVIEW): _scope_review_queue,
    (ExceptionRecord, VIEW): _scope_exceptions,
    (NonHumanIdentity, VIEW): _scope_nhis,
    (AttestationItem, ATTEST): _scope_attestation_items,
    (Notification, VIEW): _scope_own,
    (Notification, CHANGE): _scope_own,
    (CalendarFeed, MANAGE): _scope_team_feeds,
    (Audit, VIEW): _scope_audits,
    (AuditRequest, VIEW): _scope_audit_requests,
    (AuditSample, VIEW): _scope_audit_children,
    (ReportJob, VIEW): _scope_audit_children,
    (ReportJob, DOWNLOAD): _scope_audit_children,
}


def restrict(queryset: models.QuerySet, user, action: str = VIEW) -> models.QuerySet:
    """The rows of ``queryset`` that ``user`` may ``action``, as a SQL filter."""
    if not _signed_in(user):
        return queryset.none()
    scope = SCOPES.get((queryset.model, action))
    if scope is not None:
        return scope(queryset, user)
    return queryset if can(user, action, queryset.model) else queryset.none()


def _model_of_view(view) -> type[models.Model] | None:
    """The model a view's rows are, or None for a view with no queryset (the API root, the
    schema), which DRF marks with ``_ignore_model_permissions``."""
    if getattr(view, "_ignore_model_permissions", False) or not hasattr(view, "get_queryset"):
        return None
    try:
        queryset = view.get_queryset()
    except AssertionError:  # a GenericAPIView that names no queryset
        return None
    return getattr(queryset, "model", None)


class ApiPermission(drf_permissions.BasePermission):
    """DRF's door to this module. A viewset names the action each of its methods needs in
    ``permission_actions`` (e.g. ``{"partial_update": "change_owners"}``); reads need ``view``.
    A view without a queryset (the API root) shows no rows: anyone signed in may read it, and
    nobody may write to it."""

    def _action(self, request, view) -> str:
        mapping = getattr(view, "permission_actions", {})
        action = getattr(view, "action", None)
        if action in mapping:
            return mapping[action]
        if request.method in drf_permissions.SAFE_METHODS:
            return VIEW
        return {"create": ADD, "destroy": "delete"}.get(action, CHANGE)

    def has_permission(self, request, view):
        if not _signed_in(request.user):
            return False
        model = _model_of_view(view)
        if model is None:
            return request.method in drf_permissions.SAFE_METHODS
        if getattr(view, "action", None) in ("create", "list"):
            # A list is refused outright when the model's rule refuses the whole kind of row
            # (e.g. the activity log for a team member); otherwise restrict() filters it.
            return can(request.user, self._action(request, view), model)
        return True  # the object decides, in has_object_permission

    def has_object_permission(self, request, view, obj):
        rule = RULES.get((_model_of(obj), self._action(request, view)))
        verdict = rule(request.user, obj) if rule else False
        if isinstance(verdict, Denied):
            self.message = str(verdict)  # DRF makes a permission object per request
        return bool(verdict)


# External auditors reach the programme only through their audits. These URL names are all
# they may open; ``AUDITOR_WRITES`` all they may send a write to: their own requests,
# comments, samples and report jobs, their notifications, and signing out. The audits
# middleware enforces both on every request and logs each one (see ``audits.middleware``).
AUDITOR_NAMESPACES = {"audits"}
AUDITOR_PAGES = {
    "home", "logout", "notification_list", "notifications_mark_read", "evidence:file_download",
    "api-root", "api-schema", "api-docs",
    "audit-list", "audit-detail", "audit-coverage",
    "auditrequest-list", "auditrequest-detail", "auditrequest-accept", "auditrequest-return",
    "auditrequest-comment",
    "report-list", "report-detail", "report-download",
}
AUDITOR_WRITES = {
    "logout", "notifications_mark_read",
    "audits:request_new", "audits:request_decide", "audits:request_comment", "audits:sample_new",
    "audits:report_new",
    "auditrequest-list", "auditrequest-accept", "auditrequest-return", "auditrequest-comment",
    "report-list",
}
# Their own account: second factor, password, signing out. Pages and writes alike.
ACCOUNT_PAGES = {
    "account_logout", "account_change_password", "account_set_password", "account_reauthenticate",
    "mfa_index", "mfa_authenticate", "mfa_reauthenticate", "mfa_activate_totp", "mfa_deactivate_totp",
    "mfa_view_recovery_codes", "mfa_generate_recovery_codes", "mfa_download_recovery_codes",
}
AUDITOR_PAGES |= ACCOUNT_PAGES
AUDITOR_WRITES |= ACCOUNT_PAGES


def auditor_may(match, method: str) -> bool | Denied:
    """May an external auditor send ``method`` to the view ``match`` resolved to?"""
    if match is None:
        return Denied("Not found.")
    name = match.view_name
    readable = name in AUDITOR_PAGES or (match.namespace in AUDITOR_NAMESPACES)
    if not readable:
        return Denied("Auditors see the programme through their audits: open it from Audits.")
    if method in drf_permissions.SAFE_METHODS or name in AUDITOR_WRITES:
        return True
    return Denied("Auditors have read-only access; they may only raise and answer their own requests.")
