"""Signatures: who may sign, what confirms it is them, what exactly they signed, and what
happens when signed content changes afterwards (the signatures are voided, never edited)."""

import hashlib
import io
import json
import re

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from pypdf import PdfReader

from exceptions import services
from exceptions.models import ExceptionSignature, ExceptionStatus, ExceptionVersion
from soc2hub.models import Notification
from tests.concurrency import race
from tests.exceptions.factories import advance, fresh, history, make_exception, moves, sign, state
from tests.factories import PASSWORD, UserFactory, second_factor

S = ExceptionStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def awaiting(people, teams, controls):
    """An access exception awaiting Finance's and Leadership's signatures."""
    return advance(make_exception(people["owner"], teams["hr"], controls=[controls["hr"]]), S.UNDER_REVIEW, people)


@pytest.fixture
def approved(awaiting, people):
    return _approve(awaiting, people)


def _approve(exception, people, shout=False):
    """Finance then Leadership approve. ``shout`` types the names in capitals, which the name
    check accepts and which lets a test tell these signatures from later ones."""
    for who in ("finance", "leadership"):
        name = people[who].get_full_name()
        sign(exception, people[who], typed_name=name.upper() if shout else name)
    exception = fresh(exception)
    assert exception.status == S.APPROVED
    return exception


def canonical_sha256(content: dict) -> str:
    """SHA-256 of the content as JSON with sorted keys and no spaces, computed here independently."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode()).hexdigest()


def hidden_hash(response) -> str:
    return re.search(r'name="content_sha256" value="([0-9a-f]{64})"', response.content.decode()).group(1)


def api_json(client, method, url, body=None):
    return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json")


# --- who, and how they confirm it is them ---------------------------------------------------------

@pytest.mark.parametrize("who, kind, message", [
    ("security", "access", "not a required signer for access exceptions"),
    ("owner", "access", "not a required signer for access exceptions"),
    ("other_team", "access", "not a required signer"),
    ("auditor", "access", "not a required signer"),
    ("finance", "policy", "not a required signer for policy exceptions"),
])
def test_a_non_signer_cannot_sign(people, teams, who, kind, message):
    exception = advance(make_exception(people["owner"], teams["hr"], type=kind), S.UNDER_REVIEW, people)
    before = state(exception)
    with pytest.raises(PermissionDenied, match=message):
        sign(exception, people[who])
    assert state(exception) == before


@pytest.mark.parametrize("password", ["not my password", "", PASSWORD.upper()])
def test_a_wrong_password_signs_nothing(awaiting, people, password):
    before = state(awaiting)
    with pytest.raises(ValidationError) as caught:
        sign(awaiting, people["finance"], password=password)
    assert caught.value.message_dict == {"password": ["That password is not correct. Nothing was signed."]}
    assert state(awaiting) == before


@pytest.mark.parametrize("typed", ["", "Someone Else", "first-only", "username", "full name and more"])
def test_a_wrong_typed_name_signs_nothing(awaiting, people, typed):
    finance = people["finance"]
    typed = {"first-only": finance.first_name, "username": finance.username,
             "full name and more": f"{finance.get_full_name()} Jr"}.get(typed, typed)
    before = state(awaiting)
    with pytest.raises(ValidationError) as caught:
        sign(awaiting, finance, typed_name=typed)
    assert caught.value.message_dict == {"typed_name": [f"Type your full name exactly as “{finance.get_full_name()}”."]}
    assert state(awaiting) == before


def test_the_typed_name_may_differ_in_case_and_spacing(awaiting, people):
    finance = people["finance"]
    typed = f"  {finance.first_name.upper()}    {finance.last_name.lower()} "
    signature = sign(awaiting, finance, typed_name=typed)
    assert signature.typed_name == typed.strip()  # kept as typed


def test_signing_twice_is_refused_and_keeps_one_row(awaiting, people):
    sign(awaiting, people["finance"])
    before = state(awaiting)

    with pytest.raises(ValidationError, match="already signed this version"):
        sign(awaiting, people["finance"])

    assert state(awaiting) == before
    assert awaiting.signatures.filter(signer=people["finance"]).count() == 1


def test_signing_twice_through_the_api_is_refused(awaiting, people, client_for):
    client = client_for(people["finance"])
    body = {"decision": "approve", "typed_name": people["finance"].get_full_name(), "password": PASSWORD,
            "otp_code": second_factor(people["finance"]), "content_sha256": awaiting.content_sha256()}
    url = f"/api/v1/exceptions/{awaiting.pk}/sign/"
    assert api_json(client, "post", url, body).status_code == 200
    before = state(awaiting)

    second = api_json(client, "post", url, {**body, "otp_code": second_factor(people["finance"])})

    assert second.status_code == 400
    assert "already signed this version" in second.json()["non_field_errors"][0]
    assert state(awaiting) == before


@pytest.mark.parametrize("stale", ["0" * 64, "", "not a hash"])
def test_a_stale_content_hash_is_refused(awaiting, people, stale):
    before = state(awaiting)
    with pytest.raises(ValidationError, match="changed since you opened it"):
        sign(awaiting, people["finance"], content_sha256=stale)
    assert state(awaiting) == before


def test_signing_what_you_read_before_a_change_is_refused(awaiting, people):
    """Finance opens v1; HR changes it; Security reviews v2; Finance's v1 signature is refused
    until they read (and so hash) v2."""
    read_before = awaiting.content_sha256()
    services.exception_update(exception=awaiting, actor=people["owner"], justification="Cut-over slipped a month.")

    with pytest.raises(ValidationError, match="is submitted; it can be signed only while it awaits signatures"):
        sign(awaiting, people["finance"], content_sha256=read_before)
    services.exception_review(exception=awaiting, reviewer=people["security"], recommendation="approve",
                              note="Still fine.")
    before = state(awaiting)

    with pytest.raises(ValidationError, match="This exception changed since you opened it"):
        sign(awaiting, people["finance"], content_sha256=read_before)

    assert state(awaiting) == before
    signature = sign(awaiting, people["finance"])  # having read v2
    assert (signature.version, signature.content_sha256) == (2, fresh(awaiting).content_sha256())


def test_the_signing_page_refuses_a_stale_form_and_shows_the_current_version(awaiting, people, client_for):
    client = client_for(people["finance"])
    read_hash = hidden_hash(client.get(f"/exceptions/{awaiting.pk}/sign/"))
    assert read_hash == awaiting.content_sha256()
    services.exception_update(exception=awaiting, actor=people["owner"], justification="Cut-over slipped a month.")
    services.exception_review(exception=awaiting, reviewer=people["security"], recommendation="approve",
                              note="Still fine.")
    before = state(awaiting)

    response = client.post(f"/exceptions/{awaiting.pk}/sign/", {
        "decision": "approve", "typed_name": people["finance"].get_full_name(), "password": PASSWORD,
        "otp_code": second_factor(people["finance"]), "content_sha256": read_hash,
    })

    assert response.status_code == 400
    html = response.content.decode()
    assert "This exception changed since you opened it" in html
    assert "Cut-over slipped a month." in html  # the current version is on the page to read
    assert fresh(awaiting).content_sha256() in html
    assert state(awaiting) == before


def test_after_a_stale_refusal_signing_from_the_page_shown_works(awaiting, people, client_for):
    client = client_for(people["finance"])
    read_hash = hidden_hash(client.get(f"/exceptions/{awaiting.pk}/sign/"))
    services.exception_update(exception=awaiting, actor=people["owner"], justification="Cut-over slipped a month.")
    services.exception_review(exception=awaiting, reviewer=people["security"], recommendation="approve",
                              note="Still fine.")
    form = {"decision": "approve", "typed_name": people["finance"].get_full_name(), "password": PASSWORD}
    refused = client.post(f"/exceptions/{awaiting.pk}/sign/", {
        **form, "otp_code": second_factor(people["finance"]), "content_sha256": read_hash})
    assert refused.status_code == 400

    # The signer reads the version now shown and submits the form on that page again.
    retried = client.post(f"/exceptions/{awaiting.pk}/sign/", {
        **form, "otp_code": second_factor(people["finance"]), "content_sha256": hidden_hash(refused)})

    assert retried.status_code == 302
    current = fresh(awaiting)
    assert services.active_signatures(current).get().content_sha256 == current.content_sha256()


# --- what a signature records ---------------------------------------------------------------------

def test_a_signature_records_signer_time_ip_name_decision_and_the_hash_of_what_was_signed(
    awaiting, people, client_for
):
    finance = people["finance"]
    content = awaiting.signed_content()
    started = timezone.now()

    response = client_for(finance).post(f"/exceptions/{awaiting.pk}/sign/", {
        "decision": "approve", "typed_name": finance.get_full_name(), "password": PASSWORD,
        "otp_code": second_factor(finance), "content_sha256": awaiting.content_sha256(), "comment": "Budget owner agrees.",
    }, REMOTE_ADDR="198.51.100.23")

    assert response.status_code == 302
    signature = ExceptionSignature.objects.get()
    assert signature.signer == finance
    assert started <= signature.signed_at <= timezone.now()
    assert signature.ip_address == "198.51.100.23"
    assert signature.typed_name == finance.get_full_name()
    assert (signature.decision, signature.role, signature.version) == ("approve", "finance", 1)
    assert signature.comment == "Budget owner agrees."
    assert signature.security_recommendation == "approve"  # what Security recommended when it was signed
    assert signature.voided_at is None
    # The hash is SHA-256 over exactly the content the signer read, recomputable by anyone.
    assert signature.content_sha256 == canonical_sha256(content)
    assert content["justification"] == awaiting.justification and content["controls"] == ["HR-01"]
    snapshot = ExceptionVersion.objects.get(exception=awaiting, version=1)
    assert snapshot.content == content
    assert snapshot.content_sha256 == signature.content_sha256
    # ...and the log says the same.
    entry = [e for e in history(awaiting) if e.verb == "exception.signed"][-1]
    assert entry.actor == finance
    assert entry.after == {"role": "finance", "decision": "approve", "version": 1,
                           "content_sha256": signature.content_sha256, "ip": "198.51.100.23",
                           "security_recommendation": "approve"}


def test_the_api_records_the_callers_address(awaiting, people, client_for):
    client = client_for(people["leadership"])
    response = client.post(f"/api/v1/exceptions/{awaiting.pk}/sign/", json.dumps({
        "decision": "reject", "typed_name": people["leadership"].get_full_name(), "password": PASSWORD,
        "otp_code": second_factor(people["leadership"]), "content_sha256": awaiting.content_sha256(),
        "comment": "Too broad.",
    }), content_type="application/json", REMOTE_ADDR="192.0.2.44")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "rejected"
    [signed] = response.json()["signatures"]
    assert (signed["ip_address"], signed["decision"], signed["role"], signed["signer"]) == (
        "192.0.2.44", "reject", "leadership", "lee_leadership")
    assert "password" not in json.dumps(response.json())


def test_the_database_refuses_a_second_signature_for_the_same_role_and_version(awaiting, people):
    sign(awaiting, people["finance"])
    other_finance = UserFactory(username="felix_finance")
    with pytest.raises(IntegrityError), transaction.atomic():
        ExceptionSignature.objects.create(
            exception=awaiting, version=1, role="finance", signer=other_finance, typed_name="Felix",
            decision="approve", content_sha256=awaiting.content_sha256(),
        )
    assert awaiting.signatures.count() == 1


def test_a_second_finance_person_cannot_sign_a_role_already_signed(awaiting, people, teams):
    from tests.factories import member_of

    sign(awaiting, people["finance"])
    felix = member_of(teams["finance"], username="felix_finance")
    before = state(awaiting)
    with pytest.raises(ValidationError, match="no signature you can give is still needed"):
        sign(awaiting, felix)
    assert state(awaiting) == before


# --- tampering ---------------------------------------------------------------------------------

def test_changing_signed_content_voids_the_signatures_and_keeps_the_signed_version(awaiting, people):
    exception = _approve(awaiting, people)
    v1_content, v1_hash = exception.signed_content(), exception.content_sha256()
    signed = list(exception.signatures.values_list("pk", flat=True))
    assert set(exception.signatures.values_list("content_sha256", flat=True)) == {v1_hash}
    Notification.objects.all().delete()

    services.exception_update(exception=exception, actor=people["owner"],
                              justification="The cut-over slipped: six more months of access.")

    exception = fresh(exception)
    assert exception.status == S.SUBMITTED
    assert exception.version == 2
    assert exception.recommendation == "" and exception.recommended_by is None  # Security reviews again
    # The signatures are kept, voided, never deleted or edited otherwise.
    signatures = list(exception.signatures.order_by("pk"))
    assert [s.pk for s in signatures] == signed
    assert all(s.voided_at is not None for s in signatures)
    assert {s.void_reason for s in signatures} == {"Content changed after version 1"}
    assert {(s.version, s.content_sha256) for s in signatures} == {(1, v1_hash)}
    assert not services.active_signatures(exception).exists()
    # The signed version is kept with its content and hash; the new one hashes differently.
    v1 = exception.versions.get(version=1)
    assert (v1.content, v1.content_sha256) == (v1_content, v1_hash)
    assert v1.content["justification"] == "The cut-over is next month."
    v2 = exception.versions.get(version=2)
    assert v2.content_sha256 == exception.content_sha256() != v1_hash
    assert v2.content["justification"] == "The cut-over slipped: six more months of access."
    assert canonical_sha256(v2.content) == v2.content_sha256
    # One move back to submitted, and the change itself, both by HR.
    move = moves(exception)[-1]
    assert (move.before, move.after["status"], move.actor) == ({"status": "approved"}, "submitted", people["owner"])
    change = [e for e in history(exception) if e.verb == "exception.changed"][-1]
    assert change.before["justification"] == "The cut-over is next month."
    assert "2 signatures voided" in change.message
    # Security hears about it.
    assert set(Notification.objects.filter(kind="exception.signatures_voided")
               .values_list("user__username", flat=True)) == {"sam_security"}


def test_saving_without_a_change_voids_nothing(awaiting, people):
    exception = _approve(awaiting, people)
    before = state(exception)
    services.exception_update(exception=exception, actor=people["owner"], justification=exception.justification,
                              controls=list(exception.controls.all()))
    after = state(exception)
    assert after["row"]["status"] == S.APPROVED and after["signatures"] == before["signatures"]
    assert after["versions"] == before["versions"] and after["log"] == before["log"]


def test_after_re_signing_the_pdf_shows_only_the_current_signatures(awaiting, people, client_for,
                                                                     require_pdftools):
    exception = _approve(awaiting, people, shout=True)
    v1_hash = exception.content_sha256()
    services.exception_update(exception=exception, actor=people["owner"], justification="Six more months.")
    services.exception_review(exception=exception, reviewer=people["security"], recommendation="approve",
                              note="Still acceptable.")
    exception = _approve(exception, people)
    v2_hash = exception.content_sha256()

    response = client_for(people["leadership"]).get(f"/exceptions/{exception.pk}/pdf/")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    flat = re.sub(r"\s+", "", text)
    for who in ("finance", "leadership"):
        name = people[who].get_full_name()
        assert name in text
        assert name.upper() not in text  # the voided v1 signatures, typed in capitals
    assert flat.count("SignedcontentSHA-256") == 2
    assert flat.count(v2_hash) == 3  # the content's hash and each current signature's
    assert v1_hash not in flat
    assert "version 2" in text


# --- the other doors: the API and the admin ---------------------------------------------------------

def _edit_by_api(client, exception):
    return api_json(client, "patch", f"/api/v1/exceptions/{exception.pk}/",
                    {"justification": "Quietly widened to all production."})


def _edit_by_page(client, exception):
    return client.post(f"/exceptions/{exception.pk}/edit/", {
        "type": exception.type, "title": exception.title, "business_owner": exception.business_owner_id,
        "description": exception.description, "justification": "Quietly widened to all production.",
        "likelihood": exception.likelihood, "impact": exception.impact,
        "compensating_controls": exception.compensating_controls,
        "controls": [c.pk for c in exception.controls.all()], "criteria": [],
        "expires_on": exception.expires_on.isoformat(),
    })


@pytest.mark.parametrize("edit, ok", [(_edit_by_api, 200), (_edit_by_page, 302)], ids=["api", "page"])
@pytest.mark.parametrize("who", ["owner", "security"])
def test_editing_an_approved_exception_voids_its_signatures(awaiting, people, client_for, edit, ok, who):
    exception = _approve(awaiting, people)
    v1_hash = exception.content_sha256()

    response = edit(client_for(people[who]), exception)

    assert response.status_code == ok, getattr(response, "content", b"")[:500]
    exception = fresh(exception)
    assert (exception.status, exception.version) == (S.SUBMITTED, 2)
    assert exception.justification == "Quietly widened to all production."
    assert exception.signatures.count() == 2
    assert not services.active_signatures(exception).exists()
    assert exception.versions.get(version=1).content_sha256 == v1_hash != exception.content_sha256()
    if edit is _edit_by_api:
        body = response.json()
        assert (body["status"], body["version"]) == ("submitted", 2)
        assert all(s["voided_at"] for s in body["signatures"])


def test_the_api_cannot_set_status_version_or_signatures(awaiting, people, client_for):
    exception = _approve(awaiting, people)
    before = state(exception)
    response = api_json(client_for(people["security"]), "patch", f"/api/v1/exceptions/{exception.pk}/", {
        "status": "draft", "version": 7, "recommendation": "reject", "signatures": [], "content_sha256": "0" * 64,
    })
    assert response.status_code == 200
    after = state(exception)
    assert after["row"]["status"] == S.APPROVED and after["row"]["version"] == 1
    assert after["signatures"] == before["signatures"] and after["hash"] == before["hash"]


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def test_the_admin_shows_an_exception_but_refuses_to_change_it(approved, superuser, client_for):
    client = client_for(superuser)
    url = f"/admin/exceptions/exceptionrecord/{approved.pk}/change/"
    assert client.get(url).status_code == 200  # read-only view
    before = state(approved)

    response = client.post(url, {
        "type": "access", "title": "Changed in the admin", "description": "x", "justification": "Rewritten.",
        "likelihood": 1, "impact": 1, "requesting_team": approved.requesting_team_id,
        "business_owner": approved.business_owner_id, "expires_on": "2099-01-01", "status": "approved",
        "version": 1,
    })

    assert response.status_code == 403
    assert state(approved) == before


def test_the_admin_offers_no_add_or_delete(approved, superuser, client_for):
    client = client_for(superuser)
    before = state(approved)
    assert client.get(f"/admin/exceptions/exceptionrecord/{approved.pk}/delete/").status_code == 403
    assert client.post(f"/admin/exceptions/exceptionrecord/{approved.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/exceptions/exceptionrecord/add/").status_code == 403
    changelist = client.post("/admin/exceptions/exceptionrecord/", {
        "action": "delete_selected", "_selected_action": [approved.pk], "post": "yes"})
    assert changelist.status_code in (200, 302)
    assert b"delete_selected" not in client.get("/admin/exceptions/exceptionrecord/").content
    assert state(approved) == before
    # Signatures and versions have no admin of their own to edit them through.
    assert not admin.site.is_registered(ExceptionSignature)
    assert not admin.site.is_registered(ExceptionVersion)


def test_a_voided_signature_is_not_revived_by_changing_the_content_back(awaiting, people):
    """Changing v1 → v2 → content identical to v1 makes v3: the v1 signatures stay void."""
    exception = _approve(awaiting, people)
    original = exception.justification
    services.exception_update(exception=exception, actor=people["owner"], justification="Six more months.")
    services.exception_update(exception=exception, actor=people["owner"], justification=original)
    exception = fresh(exception)
    assert (exception.status, exception.version) == (S.SUBMITTED, 3)
    assert not services.active_signatures(exception).exists()
    assert exception.signatures.filter(voided_at__isnull=True).count() == 0
    assert exception.content_sha256() != exception.versions.get(version=1).content_sha256  # the version is signed in


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_click_signs_once(require_postgres, awaiting, people):
    """Two submissions of the same signature at once: the exception row is locked, the second
    sees the role signed and is refused; one row, one log entry."""
    second_factor(people["finance"])  # enrolled before the double click, as a signer would be
    outcomes = race(2, lambda _n: sign(awaiting, people["finance"]), expected=(ValidationError,))

    assert sorted(type(o).__name__ for o in outcomes) == ["ExceptionSignature", "ValidationError"]
    assert awaiting.signatures.count() == 1
    assert [e.verb for e in history(awaiting)].count("exception.signed") == 1


def test_one_person_holding_two_signer_roles_signs_only_once(people, teams, controls):
    """Leadership and Finance must be two people: a leader who is also in Finance signs one role."""
    from tests.factories import member_of

    leader = people["leadership"]
    member_of(teams["finance"], username=leader.username)
    exception = advance(make_exception(people["owner"], teams["hr"], type="access"), "under_review", people)
    sign(exception, leader)
    assert services.open_signer_roles(fresh(exception), leader) == []
    with pytest.raises(ValidationError, match="already signed"):
        sign(fresh(exception), leader)
    assert fresh(exception).status == "under_review"
    assert fresh(exception).signatures.count() == 1
