"""Who single sign-on keeps out, and what they see: people the IdP gives no team or role (an
account they had is deactivated and its identities flagged), people disabled at the IdP, ID
tokens for another client or expired, callbacks without their state. No refusal names anything
the IdP said about the person."""

import json
import logging
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from allauth.socialaccount.models import SocialAccount

from nhi.models import NonHumanIdentity
from soc2hub.models import ActivityLog, User
from tests.factories import member_of
from tests.idp.fixtures import OTHER_APP, idp_person, sso_settings
from tests.nhi.factories import make_nhi, notified
from tests.sso.conftest import IdpPage, Person

NO_TEAM = "Your Example IdP account has no soc2hub team or role; ask your administrator."
DID_NOT_COMPLETE = "Signing in with Example IdP did not complete"


@pytest.fixture(autouse=True)
def _sso_log(caplog):
    caplog.set_level(logging.INFO, logger="soc2hub.sso")


def assert_tells_nothing_about(response, *idp_facts: str) -> None:
    """The page names nothing the IdP said about the person, and nothing of the protocol."""
    page = response.content.decode()
    for fact in (*idp_facts, "id_token", "eyJ", "Traceback", "InvalidAudience", "Expired", "groups"):
        assert fact not in page, f"{fact!r} shown on the {response.status_code} page"


def assert_signed_out(person: Person) -> None:
    assert person.signed_in_as() is None
    assert person.client.get("/").status_code == 302  # to the sign-in page


ALICE = ("alice@example.com", "Archer", "all-staff")


# --- no team or role ---------------------------------------------------------------------------------

def test_a_person_whose_groups_map_to_nothing_is_refused_and_gets_no_account(person):
    response = person.sign_in("uma")  # IdP groups: all-staff, which the map ignores

    assert response.status_code == 403
    assert NO_TEAM in response.content.decode()
    assert_tells_nothing_about(response, "uma@example.com", "Unmapped", "all-staff")
    assert_signed_out(person)
    assert not User.objects.filter(email="uma@example.com").exists()
    assert not SocialAccount.objects.exists()


def test_an_account_whose_groups_no_longer_map_is_deactivated_and_its_identities_flagged(sso, teams, personas):
    engineering = teams["engineering"]
    engineering.lead = member_of(engineering, username="emil_eng_lead")
    engineering.save(update_fields=["lead"])
    sso.apply(users=[idp_person("olga", groups=["eng"])])
    Person().sign_in("olga")
    olga = User.objects.get(username="olga")
    make_nhi(engineering, "deploy-bot", technical_owner=olga)
    make_nhi(engineering, "ci-token", technical_owner=olga)

    sso.set_groups("olga", ["all-staff"])
    refused = Person()
    response = refused.sign_in("olga")

    assert response.status_code == 403 and NO_TEAM in response.content.decode()
    assert_tells_nothing_about(response, "olga@example.com", "all-staff")
    assert_signed_out(refused)
    olga.refresh_from_db()
    assert not olga.is_active
    # The NHI offboarding flow: every identity she owned is to be transferred and rotated, and
    # her team's lead and Security are told.
    assert set(NonHumanIdentity.objects.values_list("name", "transfer_required", "rotation_required")) == {
        ("deploy-bot", True, True), ("ci-token", True, True)}
    assert notified("nhi.owner_left") == ["emil_eng_lead", "sam_security"]
    [deactivated] = ActivityLog.objects.filter(verb="user.deactivated")
    assert deactivated.message == (
        "Olga Tester was deactivated: their Example IdP account has no soc2hub team or role.")
    assert ActivityLog.objects.filter(verb="nhi.owner_left").count() == 2

    # Back in a mapped group at the IdP: still out until an administrator reactivates her.
    sso.set_groups("olga", ["eng"])
    again = Person().sign_in("olga")
    assert again.status_code == 403
    assert "Your soc2hub account is deactivated; ask your administrator." in again.content.decode()


def test_an_idp_that_sends_no_groups_claim_refuses_everyone_but_deactivates_nobody(sso, settings):
    """A missing claim is a configuration fault (a scope or mapper left out), not a verdict."""
    sso.apply(users=[idp_person("pia", groups=["eng"])])
    Person().sign_in("pia")
    sso_settings(settings, sso, auth_params={"scope": "openid profile email"})  # no "groups" scope

    response = Person().sign_in("pia")

    assert response.status_code == 403 and NO_TEAM in response.content.decode()
    assert User.objects.get(username="pia").is_active


def test_only_the_allowed_email_domains_get_in(person, settings):
    settings.OIDC_ALLOWED_DOMAINS = ["corp.example"]

    response = person.sign_in("alice")

    assert response.status_code == 403
    assert "Your Example IdP account may not sign in to soc2hub" in response.content.decode()
    assert_tells_nothing_about(response, *ALICE)
    assert not User.objects.filter(username="alice").exists()

    settings.OIDC_ALLOWED_DOMAINS = ["example.com"]
    assert Person().sign_in("alice").status_code == 302


# --- disabled at the IdP -----------------------------------------------------------------------------

def test_a_person_disabled_at_the_idp_cannot_get_in(sso):
    sso.apply(users=[idp_person("dora", groups=["eng"])])
    earlier = Person()
    earlier.sign_in("dora")
    earlier.client.post("/accounts/logout/")

    sso.disable("dora")

    fresh = Person()
    with pytest.raises(IdpPage) as at_idp:
        fresh.at_idp(fresh.start(), "dora")
    assert "Your account is disabled. Contact your administrator." in at_idp.value.response.text
    assert_signed_out(fresh)
    # The browser she used before: its IdP session no longer counts either.
    with pytest.raises(IdpPage):
        earlier.at_idp(earlier.start(), "dora")
    assert_signed_out(earlier)


# --- the ID token ------------------------------------------------------------------------------------

@contextmanager
def token_endpoint_answering(answer: dict):
    """A token endpoint in the middle (a compromised proxy, an IdP mix-up) that answers every
    code exchange with ``answer``: genuine tokens, issued by the real IdP to someone else."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/token"
    finally:
        server.shutdown()
        server.server_close()


def tokens_for_other_app(person: Person, idp, username: str) -> dict:
    """``other-app``, another client of the same IdP, signs ``username`` in for itself."""
    redirect_uri = OTHER_APP["redirect_uris"][0]
    authorize = f"{idp.issuer}/authorize?" + urlencode({
        "client_id": OTHER_APP["client_id"], "redirect_uri": redirect_uri, "response_type": "code",
        "scope": "openid profile email groups", "state": "other-app-state"})
    back = person.at_idp(authorize, username, back_to=redirect_uri)
    code = parse_qs(urlsplit(back).query)["code"][0]
    tokens = requests.post(f"{idp.issuer}/token", timeout=30, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": OTHER_APP["client_id"], "client_secret": OTHER_APP["secret"]}).json()
    assert jwt.decode(tokens["id_token"], options={"verify_signature": False})["aud"] == OTHER_APP["client_id"]
    return tokens


def test_an_id_token_issued_to_another_client_is_refused(sso, settings, person, caplog):
    other_apps_tokens = tokens_for_other_app(person, sso, "alice")

    with token_endpoint_answering(other_apps_tokens) as token_endpoint:
        sso_settings(settings, sso, openid_configuration_overrides={"token_endpoint": token_endpoint})
        response = person.sign_in("alice")

    assert response.status_code == 400 and DID_NOT_COMPLETE in response.content.decode()
    assert_tells_nothing_about(response, *ALICE)
    assert_signed_out(person)
    assert not User.objects.exists()
    assert "InvalidAudienceError" in caplog.text


def test_an_id_token_expired_on_its_way_is_refused(settings, idp_slow, teams, caplog):
    """The slow IdP's ID tokens live 1 s and its token endpoint answers 2 s late."""
    sso_settings(settings, idp_slow)
    person = Person()

    response = person.sign_in("alice")

    assert response.status_code == 400 and DID_NOT_COMPLETE in response.content.decode()
    assert_tells_nothing_about(response, *ALICE)
    assert_signed_out(person)
    assert not User.objects.exists()
    assert "ExpiredSignatureError" in caplog.text


# --- the state parameter -----------------------------------------------------------------------------

def test_a_replayed_callback_is_refused(person):
    callback = person.at_idp(person.start(), "alice")
    assert person.back_at_soc2hub(callback).status_code == 302
    person.client.post("/accounts/logout/")

    replayed = person.back_at_soc2hub(callback)

    assert replayed.status_code == 400 and DID_NOT_COMPLETE in replayed.content.decode()
    assert_tells_nothing_about(replayed, *ALICE)
    assert_signed_out(person)


def test_a_callback_started_in_another_browser_is_refused(person, make_person):
    """Login CSRF: an attacker finishes their own sign-in at the IdP and sends the link back to
    soc2hub to a victim, who would be signed in as the attacker. The victim's session holds no
    matching state, whether or not they had started a sign-in of their own."""
    attacker = make_person()
    attacker_callback = attacker.at_idp(attacker.start(), "sam")
    victim = person
    victim.start()

    response = victim.back_at_soc2hub(attacker_callback)

    assert response.status_code == 400 and DID_NOT_COMPLETE in response.content.decode()
    assert_tells_nothing_about(response, "sam@example.com", "Shield", "security-team")
    assert_signed_out(victim)
    assert not User.objects.exists()


def test_a_callback_without_its_state_is_refused(person):
    callback = person.at_idp(person.start(), "alice")
    code = parse_qs(urlsplit(callback).query)["code"][0]

    response = person.client.get(urlsplit(callback).path, {"code": code})

    assert response.status_code == 400 and DID_NOT_COMPLETE in response.content.decode()
    assert_signed_out(person)
    assert not User.objects.exists()
