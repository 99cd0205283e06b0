"""The exception state machine, one move at a time.

draft → submitted → under review → approved | rejected; approved → expired | revoked | closed.
Every move is one service; an illegal one is refused with a clear error and changes nothing;
a legal one writes exactly one log entry with its actor and the status before and after.
"""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from exceptions import services
from exceptions.models import ExceptionStatus, RiskLevel, SignerRole, risk_level_for
from exceptions.signers import required_signer_roles
from tests.exceptions.factories import advance, fresh, make_exception, moves, sign, state

S = ExceptionStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(people, teams, controls):
    return make_exception(people["owner"], teams["hr"], controls=[controls["hr"]])


# --- legal moves ---------------------------------------------------------------------------------

def _submit(e, people):
    services.exception_submit(exception=e, actor=people["owner"])
    return people["owner"]


def _review(e, people):
    services.exception_review(exception=e, reviewer=people["security"], recommendation="reject",
                              note="Too broad; signers should say no.")
    return people["security"]


def _approve(e, people):
    sign(e, people["finance"])
    assert fresh(e).status == S.UNDER_REVIEW  # Finance alone is not enough for access
    sign(e, people["leadership"])
    return people["leadership"]


def _reject(e, people):
    sign(e, people["finance"], "reject")
    return people["finance"]


SYSTEM = None  # the daily job acts as nobody


def _expire(e, people):
    services.exceptions_expire(as_of=e.expires_on)
    return SYSTEM


def _revoke_by(persona):
    def run(e, people):
        services.exception_revoke(exception=e, actor=people[persona], reason="Risk no longer acceptable.")
        return people[persona]
    return run


def _close(e, people):
    services.exception_close(exception=e, actor=people["owner"], reason="Contractor offboarded.")
    return people["owner"]


LEGAL = [
    (S.DRAFT, _submit, S.SUBMITTED),
    (S.SUBMITTED, _review, S.UNDER_REVIEW),
    (S.UNDER_REVIEW, _approve, S.APPROVED),
    (S.UNDER_REVIEW, _reject, S.REJECTED),
    (S.APPROVED, _expire, S.EXPIRED),
    (S.APPROVED, _revoke_by("security"), S.REVOKED),
    (S.APPROVED, _revoke_by("leadership"), S.REVOKED),
    (S.APPROVED, _close, S.CLOSED),
    (S.SUBMITTED, _revoke_by("security"), S.REVOKED),
    (S.UNDER_REVIEW, _revoke_by("leadership"), S.REVOKED),
    (S.SUBMITTED, _expire, S.EXPIRED),
    (S.UNDER_REVIEW, _expire, S.EXPIRED),
]


@pytest.mark.parametrize("start, move, end", LEGAL, ids=[f"{a}-{m.__name__}-{b}" for a, m, b in LEGAL])
def test_each_move_changes_status_and_logs_it_once(draft, people, start, move, end):
    exception = advance(draft, start, people)
    moves_before = len(moves(exception))

    actor = move(exception, people)

    assert fresh(exception).status == end
    new = moves(exception)[moves_before:]
    assert len(new) == 1, [e.verb for e in new]
    entry = new[0]
    assert entry.actor == actor
    assert entry.before == {"status": start}
    assert entry.after["status"] == end
    assert entry.verb.startswith("exception.")


def test_the_whole_journey_leaves_one_entry_per_move(draft, people):
    exception = advance(draft, S.CLOSED, people)
    assert [(m.before["status"], m.after["status"], m.actor.username) for m in moves(exception)] == [
        (S.DRAFT, S.SUBMITTED, "harriet_hr"),
        (S.SUBMITTED, S.UNDER_REVIEW, "sam_security"),
        (S.UNDER_REVIEW, S.APPROVED, "fran_finance"),  # the last of the two signers
        (S.APPROVED, S.CLOSED, "harriet_hr"),
    ]
    assert fresh(exception).closing_reason == "Access removed."


# --- illegal moves ---------------------------------------------------------------------------------

def _do_sign(e, people, who="leadership"):
    sign(e, people[who])


def _do_review(e, people, who="security"):
    services.exception_review(exception=e, reviewer=people[who], recommendation="approve", note="Fine.")


def _do_submit(e, people, who="owner"):
    services.exception_submit(exception=e, actor=people[who])


def _do_close(e, people, who="owner"):
    services.exception_close(exception=e, actor=people[who], reason="Done.")


def _do_revoke(e, people, who="security"):
    services.exception_revoke(exception=e, actor=people[who], reason="Stop.")


def _do_edit(e, people, who="security"):
    services.exception_update(exception=e, actor=people[who], justification="Rewritten after the fact.")



def case(start, action, message, marks=()):
    return pytest.param(start, action, message, marks=marks, id=f"{action.__name__.removeprefix('_do_')}-{start}")


ILLEGAL = [
    case(S.DRAFT, _do_sign, "is draft; it can be signed only while it awaits signatures"),
    case(S.SUBMITTED, _do_sign, "is submitted; it can be signed only while it awaits signatures"),
    case(S.APPROVED, _do_sign, "is approved; it can be signed only while it awaits signatures"),
    case(S.REJECTED, _do_sign, "is rejected; it can be signed only"),
    case(S.DRAFT, _do_review, "is draft; it cannot become awaiting signatures"),
    case(S.UNDER_REVIEW, _do_review, "is awaiting signatures; it cannot become awaiting signatures"),
    case(S.APPROVED, _do_review, "is approved; it cannot become awaiting signatures"),
    case(S.SUBMITTED, _do_submit, "is submitted; .*submit"),  # submit twice
    case(S.UNDER_REVIEW, _do_submit, "is awaiting signatures; .*submit"),
    case(S.APPROVED, _do_submit, "is approved; .*submit"),
    case(S.DRAFT, _do_close, "is draft; it cannot become closed"),
    case(S.SUBMITTED, _do_close, "is submitted; it cannot become closed"),
    case(S.UNDER_REVIEW, _do_close, "is awaiting signatures; it cannot become closed"),
    case(S.EXPIRED, _do_close, "is expired; it cannot become closed"),
    case(S.DRAFT, _do_revoke, "is draft; it cannot become revoked"),
    case(S.EXPIRED, _do_revoke, "is expired; it cannot become revoked"),
    case(S.REJECTED, _do_revoke, "is rejected; it cannot become revoked"),
    case(S.CLOSED, _do_revoke, "is closed \\(remediated\\); it cannot become revoked"),
    case(S.REVOKED, _do_revoke, "is revoked; it cannot become revoked"),
    case(S.REVOKED, _do_edit, "is revoked and can no longer change"),
    case(S.EXPIRED, _do_edit, "is expired and can no longer change"),
    case(S.REJECTED, _do_edit, "is rejected and can no longer change"),
    case(S.CLOSED, _do_edit, "is closed \\(remediated\\) and can no longer change"),
]


@pytest.mark.parametrize("start, action, message", ILLEGAL)
def test_an_illegal_move_is_refused_and_changes_nothing(draft, people, start, action, message):
    exception = advance(draft, start, people)
    before = state(exception)

    with pytest.raises(ValidationError, match=f"^\\['EXC-\\d{{4}} {message}"):
        action(exception, people)

    assert state(exception) == before


def test_the_exception_in_hand_is_not_changed_by_a_refused_move(draft, people):
    """The services lock and reload the row: the caller's object is never half-moved."""
    exception = advance(draft, S.SUBMITTED, people)
    with pytest.raises(ValidationError):
        services.exception_close(exception=exception, actor=people["owner"], reason="Done.")
    assert exception.status == S.SUBMITTED and exception.closing_reason == ""


@pytest.mark.parametrize("who, action, start", [
    ("owner", _do_review, S.SUBMITTED),       # only Security recommends
    ("leadership", _do_review, S.SUBMITTED),
    ("security", _do_sign, S.UNDER_REVIEW),   # Security is not a signer
    ("owner", _do_sign, S.UNDER_REVIEW),
    ("owner", _do_revoke, S.APPROVED),        # only Security or Leadership revoke
    ("finance", _do_revoke, S.APPROVED),
    ("leadership", _do_close, S.APPROVED),    # the requesting team or Security close
    ("finance", _do_edit, S.APPROVED),
    ("other_team", _do_submit, S.DRAFT),
    ("auditor", _do_submit, S.DRAFT),
])
def test_the_wrong_person_is_refused_and_nothing_changes(draft, people, who, action, start):
    exception = advance(draft, start, people)
    before = state(exception)

    with pytest.raises(PermissionDenied):
        action(exception, people, who=who)

    assert state(exception) == before


@pytest.mark.parametrize("kwargs, field", [
    ({"recommendation": "maybe", "note": "Hmm."}, "recommendation"),
    ({"recommendation": "approve", "note": "   "}, "note"),
])
def test_a_review_needs_a_recommendation_and_a_reason(draft, people, kwargs, field):
    exception = advance(draft, S.SUBMITTED, people)
    before = state(exception)
    with pytest.raises(ValidationError) as caught:
        services.exception_review(exception=exception, reviewer=people["security"], **kwargs)
    assert set(caught.value.message_dict) == {field}
    assert state(exception) == before


@pytest.mark.parametrize("service", [services.exception_revoke, services.exception_close])
def test_ending_needs_a_reason(draft, people, service):
    exception = advance(draft, S.APPROVED, people)
    before = state(exception)
    with pytest.raises(ValidationError, match="Give a reason"):
        service(exception=exception, actor=people["security"], reason="  ")
    assert state(exception) == before


# --- who must sign ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, roles", [
    ("access", [SignerRole.LEADERSHIP, SignerRole.FINANCE]),
    ("policy", [SignerRole.LEADERSHIP]),
    ("control_deviation", [SignerRole.LEADERSHIP]),
    ("vendor", [SignerRole.LEADERSHIP]),
])
def test_required_signers_by_type(people, teams, kind, roles):
    exception = make_exception(people["owner"], teams["hr"], type=kind)
    assert required_signer_roles(exception) == roles


def test_required_signers_follow_the_setting(settings, people, teams):
    settings.EXCEPTION_SIGNERS = {"vendor": ["finance"], "policy": ["leadership", "finance"]}
    vendor = make_exception(people["owner"], teams["hr"], type="vendor")
    policy = make_exception(people["owner"], teams["hr"], type="policy")
    access = make_exception(people["owner"], teams["hr"], type="access")  # not listed: Leadership only

    assert required_signer_roles(vendor) == ["finance"]
    assert required_signer_roles(policy) == ["leadership", "finance"]
    assert required_signer_roles(access) == ["leadership"]

    # Finance alone approves a vendor exception; Leadership may not sign it at all.
    vendor = advance(vendor, S.UNDER_REVIEW, people)
    with pytest.raises(PermissionDenied, match="not a required signer for vendor exceptions"):
        sign(vendor, people["leadership"])
    sign(vendor, people["finance"])
    assert fresh(vendor).status == S.APPROVED
    # Leadership alone approves an access exception.
    access = advance(access, S.UNDER_REVIEW, people)
    sign(access, people["leadership"])
    assert fresh(access).status == S.APPROVED


@pytest.mark.parametrize("first, second", [("finance", "leadership"), ("leadership", "finance")])
def test_approved_only_when_every_required_role_approved(draft, people, first, second):
    exception = advance(draft, S.UNDER_REVIEW, people)
    sign(exception, people[first])
    assert fresh(exception).status == S.UNDER_REVIEW
    assert not [m for m in moves(exception) if m.after["status"] == S.APPROVED]

    sign(exception, people[second])

    exception = fresh(exception)
    assert exception.status == S.APPROVED
    assert sorted(exception.signatures.values_list("role", "decision")) == [
        ("finance", "approve"), ("leadership", "approve")]


def test_a_policy_exception_needs_only_leadership(people, teams):
    exception = advance(make_exception(people["owner"], teams["hr"], type="policy"), S.UNDER_REVIEW, people)
    with pytest.raises(PermissionDenied):
        sign(exception, people["finance"])
    sign(exception, people["leadership"])
    assert fresh(exception).status == S.APPROVED


@pytest.mark.parametrize("approver, rejecter", [(None, "finance"), (None, "leadership"),
                                                ("leadership", "finance"), ("finance", "leadership")])
def test_a_reject_by_any_signer_rejects(draft, people, approver, rejecter):
    exception = advance(draft, S.UNDER_REVIEW, people)
    if approver:
        sign(exception, people[approver])

    sign(exception, people[rejecter], "reject")

    exception = fresh(exception)
    assert exception.status == S.REJECTED
    assert moves(exception)[-1].actor == people[rejecter]
    # Nothing more can be signed on a rejected exception.
    remaining = "leadership" if rejecter == "finance" else "finance"
    if remaining != approver:
        with pytest.raises(ValidationError, match="is rejected"):
            sign(exception, people[remaining])


def test_the_security_recommendation_does_not_decide(draft, people):
    """Security recommending reject is advice: the signers may still approve."""
    exception = advance(draft, S.SUBMITTED, people)
    _review(exception, people)
    _approve(exception, people)
    exception = fresh(exception)
    assert (exception.status, exception.recommendation) == (S.APPROVED, "reject")


# --- risk ---------------------------------------------------------------------------------------

def _expected_level(score):
    if 1 <= score <= 4:
        return RiskLevel.LOW
    if 5 <= score <= 9:
        return RiskLevel.MEDIUM
    if 10 <= score <= 16:
        return RiskLevel.HIGH
    assert 20 <= score <= 25
    return RiskLevel.CRITICAL


@pytest.mark.parametrize("likelihood", range(1, 6))
@pytest.mark.parametrize("impact", range(1, 6))
def test_risk_level_from_likelihood_and_impact(likelihood, impact):
    from exceptions.models import ExceptionRecord

    exception = ExceptionRecord(likelihood=likelihood, impact=impact)
    assert exception.risk_score == likelihood * impact
    assert exception.risk_level == _expected_level(likelihood * impact)


@pytest.mark.parametrize("score, level", [
    (1, "low"), (4, "low"), (5, "medium"), (9, "medium"), (10, "high"), (16, "high"), (20, "critical"),
    (25, "critical"),
])
def test_risk_level_boundaries(score, level):
    assert risk_level_for(score) == level


def test_the_risk_level_is_part_of_what_is_signed(draft):
    assert draft.signed_content()["risk_level"] == "high"  # 3 × 4 = 12
    draft.likelihood, draft.impact = 5, 4
    assert draft.signed_content()["risk_level"] == "critical"
