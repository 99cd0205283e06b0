"""Step-up before a signature: the password and a current second-factor code, each wrong
answer counted towards the same lockout as the sign-in page, through the page and the API."""

import json

import pytest
from allauth.mfa.models import Authenticator
from axes.models import AccessAttempt
from django.core.exceptions import ValidationError
from django.test import Client

from exceptions.models import ExceptionStatus
from tests.exceptions.factories import advance, fresh, make_exception, sign, state
from tests.factories import PASSWORD, second_factor, totp_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def awaiting(people, teams, controls):
    return advance(make_exception(people["owner"], teams["hr"], controls=[controls["hr"]]), ExceptionStatus.UNDER_REVIEW,
                   people)


def page_form(exception, user, **overrides):
    return {"decision": "approve", "typed_name": user.get_full_name(), "password": PASSWORD,
            "otp_code": totp_now(), "content_sha256": exception.content_sha256(), **overrides}


def test_a_current_authenticator_code_signs(awaiting, people):
    finance = people["finance"]
    second_factor(finance)
    signature = sign(awaiting, finance, otp_code=totp_now())
    assert signature.role == "finance" and signature.signer == finance


@pytest.mark.parametrize("code", ["", "000000", "123", "not a code", "9" * 64])
def test_a_wrong_or_missing_code_signs_nothing(awaiting, people, code):
    second_factor(people["finance"])
    before = state(awaiting)
    with pytest.raises(ValidationError) as caught:
        sign(awaiting, people["finance"], otp_code=code)
    assert list(caught.value.message_dict) == ["otp_code"]
    assert state(awaiting) == before


def test_a_replayed_code_signs_nothing(awaiting, people, teams, controls):
    """The code that signed one exception cannot sign a second one a moment later."""
    leader = people["leadership"]
    second_factor(leader)
    code = totp_now()
    other = advance(make_exception(people["owner"], teams["hr"], controls=[controls["hr"]], type="policy"),
                    ExceptionStatus.UNDER_REVIEW, people)
    sign(other, leader, otp_code=code)
    before = state(awaiting)
    with pytest.raises(ValidationError, match="already used"):
        sign(awaiting, leader, otp_code=code)
    assert state(awaiting) == before


def test_a_used_recovery_code_signs_nothing_the_second_time(awaiting, people, teams, controls):
    leader = people["leadership"]
    code = second_factor(leader)
    other = advance(make_exception(people["owner"], teams["hr"], controls=[controls["hr"]], type="policy"),
                    ExceptionStatus.UNDER_REVIEW, people)
    sign(other, leader, otp_code=code)
    with pytest.raises(ValidationError, match="otp_code"):
        sign(awaiting, leader, otp_code=code)


def test_a_signer_without_a_second_factor_is_told_to_set_one_up(awaiting, people):
    assert not Authenticator.objects.filter(user=people["finance"]).exists()
    with pytest.raises(ValidationError, match="set up an authenticator app first"):
        sign(awaiting, people["finance"], otp_code="123456")
    assert fresh(awaiting).signatures.count() == 0


def test_the_signing_page_asks_for_the_code(awaiting, people, client_for):
    html = client_for(people["finance"]).get(f"/exceptions/{awaiting.pk}/sign/").content.decode()
    assert 'name="otp_code"' in html and 'autocomplete="one-time-code"' in html


def test_five_wrong_passwords_on_the_signing_page_lock_out_signing_and_sign_in(awaiting, people, settings):
    finance = people["finance"]
    second_factor(finance)
    client = Client()
    client.force_login(finance)
    url = f"/exceptions/{awaiting.pk}/sign/"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(url, page_form(awaiting, finance, password="guess"), REMOTE_ADDR="198.51.100.7")
        assert response.status_code in (400, 429)
    assert AccessAttempt.objects.get(username=finance.username).failures_since_start == settings.AXES_FAILURE_LIMIT

    # The right password and code now wait for the cool-off, here and at the sign-in page.
    locked = client.post(url, page_form(awaiting, finance), REMOTE_ADDR="198.51.100.7")
    assert "Too many failed attempts" in locked.content.decode()
    assert fresh(awaiting).signatures.count() == 0
    sign_in = Client().post("/accounts/login/", {"login": finance.username, "password": PASSWORD},
                            REMOTE_ADDR="198.51.100.7")
    assert sign_in.status_code == 429


def test_wrong_codes_through_the_api_count_too_and_the_answer_names_the_field(awaiting, people, client_for):
    finance = people["finance"]
    second_factor(finance)
    client = client_for(finance)
    body = page_form(awaiting, finance, otp_code="000000")
    response = client.post(f"/api/v1/exceptions/{awaiting.pk}/sign/", json.dumps(body),
                           content_type="application/json", REMOTE_ADDR="198.51.100.8")
    assert response.status_code == 400
    assert list(response.json()) == ["otp_code"]
    assert PASSWORD not in response.content.decode()
    assert AccessAttempt.objects.get(username=finance.username, ip_address="198.51.100.8").failures_since_start == 1
    assert fresh(awaiting).signatures.count() == 0


def test_the_api_signs_with_a_current_code(awaiting, people, client_for):
    finance = people["finance"]
    second_factor(finance)
    response = client_for(finance).post(f"/api/v1/exceptions/{awaiting.pk}/sign/",
                                        json.dumps(page_form(awaiting, finance)), content_type="application/json")
    assert response.status_code == 200, response.content
    assert [s["role"] for s in response.json()["signatures"]] == ["finance"]
