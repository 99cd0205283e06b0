"""Independent signers only, and what the record says when there are none (Security is told)
or when the signers approved against Security's recommendation to reject.

Personas as in conftest.py: ``leadership`` (Lee) is the only person in the Leadership group and
a member of the Leadership team; ``finance`` (Fran) is the only Finance team member; ``owner``
(Harriet) is in HR; ``security`` (Sam) reviews.
"""

import io
import json

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import TestCase
from pypdf import PdfReader

from exceptions import services
from exceptions.models import ExceptionSignature, ExceptionStatus
from soc2hub.jobs import run_daily_jobs
from soc2hub.models import ActivityLog, Notification, TeamFunction
from tests.exceptions.factories import advance, fresh, history, make_exception, sign, state
from tests.factories import PASSWORD, Role, TeamFactory, UserFactory, member_of, second_factor

S = ExceptionStatus
pytestmark = pytest.mark.django_db
NO_LEADERSHIP = "No independent Leadership signer"
NO_FINANCE = "No independent Finance signer"
AGAINST = "Approved against Security's recommendation to reject"


def review(exception, people, recommendation="approve"):
    # The review's e-mails leave after commit, which a test's transaction never reaches.
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.exception_review(exception=exception, reviewer=people["security"], recommendation=recommendation,
                                  note="Security's view, for the signers.")
    return fresh(exception)


def submitted(actor, team, **fields):
    exception = make_exception(actor, team, **fields)
    services.exception_submit(exception=exception, actor=actor)
    return fresh(exception)


def told_security(kind="exception.no_independent_signer") -> list[str]:
    return sorted(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))


def text(response) -> str:
    return response.content.decode().replace("&#x27;", "'")


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


# --- nobody independent to sign ----------------------------------------------------------------

@pytest.fixture
def leadership_own(people, teams):
    """Leadership's own policy exception, which Security recommends rejecting: Lee, the only
    Leadership member, requested it."""
    return review(submitted(people["leadership"], teams["leadership"], type="policy"), people, "reject")


def test_a_leadership_member_cannot_sign_their_own_teams_exception(leadership_own, people, client_for):
    before = state(leadership_own)
    with pytest.raises(PermissionDenied, match="You are in Leadership, the team that requested this exception; "
                                               "someone independent must sign."):
        sign(leadership_own, people["leadership"])
    form = {"decision": "approve", "typed_name": people["leadership"].get_full_name(), "password": PASSWORD,
            "otp_code": second_factor(people["leadership"]), "content_sha256": leadership_own.content_sha256()}
    client = client_for(people["leadership"])
    assert client.post(f"/exceptions/{leadership_own.pk}/sign/", form).status_code == 403
    api = client.post(f"/api/v1/exceptions/{leadership_own.pk}/sign/", json.dumps(form),
                      content_type="application/json")
    assert api.status_code == 403
    assert "someone independent must sign" in api.json()["detail"]
    assert state(leadership_own) == before
    assert fresh(leadership_own).status == S.UNDER_REVIEW  # never approved, silently or otherwise


def test_no_independent_signer_is_shown_on_the_exception_and_in_the_register(leadership_own, people, client_for):
    for persona in ("leadership", "security"):
        client = client_for(people[persona])
        assert f"{NO_LEADERSHIP}." in text(client.get(f"/exceptions/{leadership_own.pk}/"))
        register = text(client.get("/exceptions/"))
        assert leadership_own.reference in register and NO_LEADERSHIP in register
    # Nobody is asked to sign what nobody may sign.
    assert told_security("exception.awaiting_signature") == []


def test_security_is_told_once_per_version(leadership_own, people, teams):
    security_people = sorted([people["security"].username])
    assert told_security() == security_people
    assert [m.to for m in mail.outbox if NO_LEADERSHIP.lower() in m.subject.lower()] == [
        [people["security"].email]]
    entry = ActivityLog.objects.for_object(leadership_own).get(verb="exception.no_independent_signer")
    assert entry.after == {"version": 1, "roles": ["leadership"]}
    assert entry.message == f"{NO_LEADERSHIP}."

    run_daily_jobs(only=["exceptions.no_signer_warnings"])
    run_daily_jobs(only=["exceptions.no_signer_warnings"])
    assert told_security() == security_people  # still once

    # A new version is a new request: reviewed again, Security hears again, once.
    services.exception_update(exception=leadership_own, actor=people["leadership"], justification="Narrower.")
    review(leadership_own, people)
    run_daily_jobs(only=["exceptions.no_signer_warnings"])
    assert told_security() == security_people * 2


def test_the_daily_check_tells_security_when_the_last_independent_signer_joins_the_team(people, teams):
    exception = review(submitted(people["owner"], teams["hr"], type="policy"), people)
    assert told_security() == [] and services.signers_for(exception) == [people["leadership"]]

    member_of(teams["hr"], username=people["leadership"].username)  # Lee joins HR
    assert run_daily_jobs(only=["exceptions.no_signer_warnings"])["exceptions.no_signer_warnings"]["told"] == 1
    assert told_security() == [people["security"].username]
    assert services.signers_for(fresh(exception)) == []


def test_the_finance_teams_own_access_exception_waits_for_an_independent_finance_signer(people, teams,
                                                                                        client_for):
    exception = review(submitted(member_of(teams["finance"], username="felix_finance"), teams["finance"]), people)
    assert services.roles_without_signer(exception) == ["finance"]
    assert services.signers_for(exception) == [people["leadership"]]

    sign(exception, people["leadership"])  # Leadership approves...
    assert fresh(exception).status == S.UNDER_REVIEW  # ...and it still waits: Finance has not signed
    with pytest.raises(PermissionDenied, match="You are in Finance, the team that requested this exception"):
        sign(exception, people["finance"])
    page = text(client_for(people["security"]).get(f"/exceptions/{exception.pk}/"))
    assert f"{NO_FINANCE}." in page and NO_LEADERSHIP not in page

    # Someone in another finance team is independent: they are asked, and they can sign.
    treasury = TeamFactory(name="Treasury", slug="treasury", function=TeamFunction.FINANCE)
    tess = member_of(treasury, username="tess_treasury")
    assert services.signers_for(fresh(exception)) == [tess]
    page = text(client_for(people["security"]).get(f"/exceptions/{exception.pk}/"))
    assert 'data-testid="no-independent-signer"' not in page  # (the history still says it was once so)
    sign(exception, tess)
    assert fresh(exception).status == S.APPROVED


def test_the_signing_page_names_a_role_nobody_independent_holds(people, teams, client_for):
    exception = review(submitted(people["leadership"], teams["leadership"]), people)  # access: Finance too
    page = client_for(people["finance"]).get(f"/exceptions/{exception.pk}/sign/")
    assert page.status_code == 200
    assert f"{NO_LEADERSHIP}." in text(page) and NO_FINANCE not in text(page)


def test_only_independent_signers_are_asked_reminded_and_sent_the_digest(people, teams):
    lena = member_of(teams["hr"], username="lena_leadership_hr", roles=[Role.LEADERSHIP])
    max_ = UserFactory(username="max_security_leader", roles=[Role.LEADERSHIP, Role.SECURITY])
    exception = make_exception(max_, teams["hr"], type="policy")  # Max raised it for HR
    services.exception_submit(exception=exception, actor=people["owner"])
    review(exception, people)

    assert services.signers_for(fresh(exception)) == [people["leadership"]]
    assert told_security("exception.awaiting_signature") == [people["leadership"].username]
    run_daily_jobs(only=["exceptions.signature_digests"])
    assert told_security("exception.signature_digest") == [people["leadership"].username]
    assert lena.username not in told_security("exception.signature_digest")


# --- signing against Security's recommendation ---------------------------------------------------

@pytest.fixture
def against_security(people, teams):
    """HR's access exception, which Security recommends rejecting; Finance approves it."""
    exception = review(submitted(people["owner"], teams["hr"], controls=[]), people, "reject")
    sign(exception, people["finance"])
    return fresh(exception)


def test_the_signing_page_warns_before_signing_against_security(against_security, people, client_for):
    page = text(client_for(people["leadership"]).get(f"/exceptions/{against_security.pk}/sign/"))
    assert "Security recommends rejecting this exception." in page
    assert "your signature records that you approved against Security's recommendation to reject" in page


def test_leadership_may_approve_against_security_and_the_record_says_so(against_security, people, client_for,
                                                                        tmp_path):
    sign(against_security, people["leadership"])
    exception = fresh(against_security)

    assert exception.status == S.APPROVED and exception.approved_against_security
    assert list(ExceptionSignature.objects.values_list("role", "security_recommendation")) == [
        ("finance", "reject"), ("leadership", "reject")]
    signed = [e.message for e in history(exception) if e.verb == "exception.signed"]
    assert signed == ["Finance approved against Security's recommendation to reject.",
                      "Leadership approved against Security's recommendation to reject."]
    approved = [e for e in history(exception) if e.verb == "exception.approved"][0]
    assert approved.message == f"{AGAINST}."
    assert approved.after["against_security_recommendation"] is True

    client = client_for(people["security"])
    assert f"{AGAINST}." in text(client.get(f"/exceptions/{exception.pk}/"))
    register = text(client.get("/exceptions/"))
    assert exception.reference in register and AGAINST in register
    body = client.get(f"/api/v1/exceptions/{exception.pk}/").json()
    assert body["approved_against_security"] is True
    assert {s["security_recommendation"] for s in body["signatures"]} == {"reject"}


@pytest.mark.usefixtures("require_pdftools")
def test_the_pdfs_show_an_approval_against_security(against_security, people, client_for):
    sign(against_security, people["leadership"])
    client = client_for(people["security"])
    one = pdf_text(client.get(f"/exceptions/{against_security.pk}/pdf/").content)
    assert f"{AGAINST}." in one
    assert one.count("approved against Security's recommendation to reject") == 2  # each signature
    register = " ".join(pdf_text(client.get("/exceptions/register.pdf").content).split())
    assert against_security.reference in register and AGAINST in register


@pytest.mark.usefixtures("require_pdftools")
def test_an_approval_security_recommended_carries_no_such_mark(people, teams, client_for):
    exception = advance(make_exception(people["owner"], teams["hr"]), S.APPROVED, people)
    assert not exception.approved_against_security
    client = client_for(people["security"])
    for page in (text(client.get(f"/exceptions/{exception.pk}/")), text(client.get("/exceptions/")),
                 pdf_text(client.get(f"/exceptions/{exception.pk}/pdf/").content),
                 pdf_text(client.get("/exceptions/register.pdf").content)):
        assert "against Security" not in page


def test_a_rejected_exception_is_not_shown_as_approved_against_security(against_security, people, client_for):
    sign(against_security, people["leadership"], "reject")
    exception = fresh(against_security)
    assert exception.status == S.REJECTED and not exception.approved_against_security
    page = text(client_for(people["security"]).get(f"/exceptions/{exception.pk}/"))
    assert f"{AGAINST}." not in page
    assert "against Security's recommendation to reject" in page  # Finance's signature still says it did
