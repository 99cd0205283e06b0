"""Security is made to set up two-factor authentication on first sign-in, signs in with a code
from then on, and a Finance signer confirms a signature with a code (step-up); a person who
keeps guessing is paused and told when to try again. Each page passes axe-core."""

import re
import time

import pytest
from playwright.sync_api import expect

from exceptions.models import ExceptionStatus
from tests.exceptions.factories import advance, make_exception
from tests.factories import PASSWORD, member_of, second_factor, totp_now

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mfa_on(settings):
    settings.MFA_REQUIRED_GROUPS = ["Security", "Leadership", "Finance", "Auditors"]


@pytest.fixture
def new_page(new_context):
    """A page in a fresh context watched for CSP violations (tests/e2e/conftest.py)."""
    def make(width=1366):
        page = new_context().new_page()
        page.set_viewport_size({"width": width, "height": 900})
        return page
    return make


def submit_password(page, username, password=PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_security_enrols_on_first_sign_in_then_signs_in_with_a_code(mfa_on, personas, new_page, accessibility_problems,
                                                                       screenshot):
    security = personas["security"]
    page = new_page()
    page.goto("/accounts/login/")
    assert accessibility_problems(page) == []
    screenshot(page, "0-sign-in")

    # First sign-in: the password alone, then straight to enrolment, nothing else reachable.
    submit_password(page, security.username)
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    expect(page.get_by_text("your role requires it")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    assert accessibility_problems(page) == []
    screenshot(page, "1-enrol")
    page.goto("/controls/")
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/$"))

    secret = page.get_by_label("Authenticator secret").input_value()
    page.get_by_label("Authenticator code").fill("000000")  # a wrong code first: nothing enrolled
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Incorrect code")).to_be_visible()
    page.get_by_label("Authenticator code").fill(totp_now(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Authenticator app activated.")).to_be_visible()
    codes = page.get_by_label("Unused codes").input_value().split()  # shown once, to keep
    assert len(codes) == 10 and all(re.fullmatch(r"\d{8}", c) for c in codes)
    screenshot(page, "2-enrolled")
    page.goto("/")
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    assert "/accounts/2fa" not in page.url

    # Signing out and in again asks for a code after the password; a replayed one is refused.
    page.get_by_role("button", name=re.compile(re.escape(str(security)))).click()
    page.get_by_role("button", name="Sign out").click()
    submit_password(page, security.username)
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/$"))
    assert accessibility_problems(page) == []
    screenshot(page, "3-code-step")
    started = time.monotonic()
    page.get_by_label("Code").fill(totp_now(secret, offset=1))
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"/$"))
    print(f"\nSign-in second step to the overview: {1000 * (time.monotonic() - started):.0f} ms")
    assert "/accounts/" not in page.url
    screenshot(page, "4-signed-in")


def test_a_finance_signer_confirms_with_a_code_and_a_wrong_one_signs_nothing(mfa_on, personas, teams, new_page,
                                                                                accessibility_problems,
                                                                                screenshot):
    people = {**personas, "finance": member_of(teams["finance"], username="fran_finance", first_name="Fran",
                                               last_name="Okoro")}
    exception = advance(make_exception(people["owner"], teams["hr"]), ExceptionStatus.UNDER_REVIEW, people)
    finance = people["finance"]
    second_factor(finance)

    page = new_page(width=390)
    submit_password(page, finance.username)
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/$"))
    page.get_by_label("Code").fill(totp_now())
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"/$"))

    page.goto(f"{exception.get_absolute_url()}sign/")
    page.get_by_label("Approve").check()
    page.get_by_label("Type your full name").fill("Fran Okoro")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_label("Authentication code").fill("000000")
    page.get_by_role("button", name="Sign").click()
    expect(page.get_by_text("That authentication code is not correct or was already used")).to_be_visible()
    assert exception.signatures.count() == 0
    assert accessibility_problems(page) == []
    screenshot(page, "1-wrong-code")

    page.get_by_label("Approve").check()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_label("Authentication code").fill(totp_now(offset=1))
    page.get_by_role("button", name="Sign").click()
    expect(page.get_by_text(re.compile("Signed: you approved"))).to_be_visible()
    assert exception.signatures.get().signer == finance
    screenshot(page, "2-signed")


def test_a_person_who_keeps_guessing_is_paused_and_security_lifts_it(personas, new_page, screenshot,
                                                                        accessibility_problems,
                                                                        settings):
    owner = personas["owner"]
    page = new_page()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        submit_password(page, owner.username, "Winter2026!")
    expect(page.get_by_role("heading", name="Sign-in paused")).to_be_visible()
    expect(page.get_by_test_id("lockout-message")).to_contain_text("Try again after")
    assert accessibility_problems(page) == []
    screenshot(page, "1-paused")
    submit_password(page, owner.username)  # the right password waits too
    expect(page.get_by_role("heading", name="Sign-in paused")).to_be_visible()

    security = new_page()
    submit_password(security, personas["security"].username)
    security.wait_for_url(re.compile(r"/$"))
    security.goto("/security/lockouts/")
    expect(security.get_by_role("cell", name=owner.username, exact=True)).to_be_visible()
    assert accessibility_problems(security) == []
    screenshot(security, "2-lockouts")
    security.get_by_role("button", name=re.compile(f"Unlock {owner.username}")).click()
    expect(security.get_by_text(f"{owner.username} may sign in again")).to_be_visible()

    submit_password(page, owner.username)
    page.wait_for_url(re.compile(r"/$"))
    assert "/accounts/" not in page.url
