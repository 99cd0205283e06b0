"""Single sign-on in the browser, against the real test IdP (``tests.idp``, its own process):
Erin clicks "Sign in with Example IdP", signs in on the IdP's page and lands on soc2hub as a
member of Engineering; the IdP administrator disables her, and her next sign-in stops at the
IdP with a clear message. Fred, whose IdP groups map to nothing here, is told why he cannot get
in. The sign-in page and soc2hub's refusal pass axe-core."""

import re

import pytest
from playwright.sync_api import expect

from soc2hub.models import Membership, User
from tests.idp.fixtures import PASSWORD, PROVIDER_ID, SOC2HUB, idp_person, sso_settings

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sso_live(settings, idp, live_server, teams):
    """soc2hub on the live server, registered at the IdP with its callback there."""
    sso_settings(settings, idp)
    callback = f"{live_server.url}/accounts/oidc/{PROVIDER_ID}/login/callback/"
    idp.apply(clients=[{**SOC2HUB, "redirect_uris": [*SOC2HUB["redirect_uris"], callback]}])
    return idp


@pytest.fixture
def page(new_context):
    """A page watched for CSP violations, like every journey's (tests/e2e/conftest.py)."""
    return new_context().new_page()


def sign_in_at_the_idp(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with Example IdP").click()
    expect(page.get_by_role("heading", name="Example IdP")).to_be_visible()
    page.get_by_label("Company username").fill(username)
    page.get_by_label("Company password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()


def test_a_person_signs_in_through_the_idp_until_the_idp_disables_them(sso_live, page, live_server, screenshot,
                                                                        accessibility_problems):
    sso_live.apply(users=[idp_person("erin", groups=["eng", "all-staff"])])

    page.goto("/accounts/login/")
    expect(page.get_by_role("button", name="Sign in with Example IdP")).to_be_visible()
    assert accessibility_problems(page) == []
    screenshot(page, "1-soc2hub-sign-in")

    page.get_by_role("button", name="Sign in with Example IdP").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(sso_live.url)}/login/"))
    screenshot(page, "2-idp-sign-in")
    page.get_by_label("Company username").fill("erin")
    page.get_by_label("Company password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Your teams")).to_be_visible()
    expect(page.get_by_role("link", name="Engineering", exact=True).first).to_be_visible()
    screenshot(page, "3-home-as-engineering")
    erin = User.objects.get(username="erin")
    assert set(Membership.objects.filter(user=erin).values_list("team__slug", flat=True)) == {"engineering"}

    page.get_by_role("button", name="Erin Tester").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    sso_live.disable("erin")  # the IdP administrator's move

    sign_in_at_the_idp(page, "erin")
    expect(page.get_by_role("alert")).to_have_text("Your account is disabled. Contact your administrator.")
    screenshot(page, "4-idp-refuses-disabled-person")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_a_person_without_a_mapped_group_is_told_why(sso_live, page, screenshot, accessibility_problems):
    sso_live.apply(users=[idp_person("fred", groups=["all-staff"])])

    sign_in_at_the_idp(page, "fred")

    refusal = page.get_by_test_id("sso-refused")
    expect(refusal).to_have_text("Your Example IdP account has no soc2hub team or role; ask your administrator.")
    expect(page.get_by_role("heading", name="You can't sign in to soc2hub")).to_be_visible()
    assert accessibility_problems(page) == []
    screenshot(page, "1-refused")
    assert not User.objects.filter(username="fred").exists()
