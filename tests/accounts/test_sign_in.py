"""Signing in: password, second factor, lockout after failed attempts, and who must enrol."""

import datetime as dt

import pytest
from allauth.mfa.models import Authenticator
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from soc2hub.models import ActivityLog
from tests.factories import PASSWORD, UserFactory, member_of, second_factor, totp_now

LOGIN = "/accounts/login/"
MFA_STEP = "/accounts/2fa/authenticate/"


def sign_in(client, username, password=PASSWORD, ip="198.51.100.10"):
    return client.post(LOGIN, {"login": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def person(db):
    return UserFactory(username="pat", first_name="Pat", last_name="Doe")


# --- password -------------------------------------------------------------------------------

def test_the_right_password_signs_in_and_lands_on_the_overview(person):
    client = Client()
    response = sign_in(client, "pat")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.session["_auth_user_id"] == str(person.pk)


@pytest.mark.parametrize("username, password", [("pat", "wrong"), ("pat", ""), ("nobody", PASSWORD), ("", "")])
def test_a_wrong_username_or_password_is_refused_with_one_answer(person, username, password):
    response = sign_in(Client(), username, password)
    assert response.status_code == 200
    assert "_auth_user_id" not in response.wsgi_request.session
    html = response.content.decode()
    assert "Sign in to soc2hub" in html
    if username and password:
        assert "The username and/or password you specified are not correct." in html


def test_signup_is_closed(db):
    response = Client().get("/accounts/signup/")
    assert response.status_code == 200
    assert "Sign Up Closed" in response.content.decode() or "closed" in response.content.decode().lower()


# --- lockout --------------------------------------------------------------------------------

def test_five_failures_lock_that_username_from_that_address_even_with_the_right_password(person, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "pat", "guess").status_code == 200
    assert sign_in(client, "pat", "guess").status_code == 429  # the fifth failure says so at once

    locked = sign_in(client, "pat", PASSWORD)

    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Too many failed attempts. Try again after" in html and "15 minutes" in html
    assert "_auth_user_id" not in client.session
    entry = ActivityLog.objects.get(verb="account.locked_out")
    assert entry.object_id == str(person.pk) and entry.after["ip_address"] == "198.51.100.10"
    assert "locked out" in entry.message
    # The same person from another address, and another person from this one, still get in.
    assert sign_in(Client(), "pat", PASSWORD, ip="198.51.100.99").status_code == 302
    UserFactory(username="quinn")
    assert sign_in(Client(), "quinn", PASSWORD).status_code == 302


def test_four_failures_then_the_right_password_signs_in_and_starts_the_count_again(person, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "pat", "guess")
    assert sign_in(client, "pat").status_code == 302
    assert not AccessAttempt.objects.filter(username="pat", failures_since_start__gt=0).exists()


def test_a_lockout_ends_after_the_cool_off(person, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "pat", "guess")
    assert sign_in(Client(), "pat").status_code == 429
    # Sixteen minutes later (the attempts are dated back; the clock is the database's).
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert sign_in(Client(), "pat").status_code == 302


def test_a_thousand_attempts_from_one_address_lock_the_address_whatever_the_usernames(person, settings):
    """Password spraying: many usernames, few guesses each, from one address."""
    statuses = [sign_in(Client(), f"user{n % 400}", "Winter2026!").status_code for n in range(1000)]

    limit = settings.AXES_IP_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert set(statuses[limit - 1:]) == {429}
    assert sign_in(Client(), "pat").status_code == 429  # the right password too, from that address
    assert sign_in(Client(), "pat", ip="203.0.113.5").status_code == 302  # elsewhere, fine


def test_security_sees_and_lifts_a_lockout_and_the_lift_is_logged(person, personas, client_for, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "pat", "guess")
    security = client_for(personas["security"])

    page = security.get("/security/lockouts/").content.decode()
    assert "pat" in page and "198.51.100.10" in page

    response = security.post("/security/lockouts/unlock/", {"username": "pat", "ip_address": "198.51.100.10"})
    assert response.status_code == 302
    assert sign_in(Client(), "pat").status_code == 302
    entry = ActivityLog.objects.get(verb="account.unlocked")
    assert entry.actor == personas["security"] and "lifted the sign-in lockout of pat" in entry.message


@pytest.mark.parametrize("who", ["anonymous", "owner", "other_team", "leadership", "auditor"])
def test_only_security_sees_or_lifts_lockouts(personas, client_for, who, settings, person):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "pat", "guess")
    client = client_for(personas[who])
    page = client.get("/security/lockouts/")
    lift = client.post("/security/lockouts/unlock/", {"username": "pat", "ip_address": "198.51.100.10"})
    expected = {302} if who == "anonymous" else {403}
    assert page.status_code in expected and lift.status_code in expected
    assert sign_in(Client(), "pat").status_code == 429
    assert not ActivityLog.objects.filter(verb="account.unlocked").exists()


# --- second factor at sign-in -------------------------------------------------------------------

@pytest.fixture
def enrolled(person):
    second_factor(person)
    return person


def test_with_an_authenticator_the_password_alone_does_not_sign_in(enrolled):
    client = Client()
    response = sign_in(client, "pat")
    assert response.status_code == 302 and response["Location"] == MFA_STEP
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # still signed out

    done = client.post(MFA_STEP, {"code": totp_now()})
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.session["_auth_user_id"] == str(enrolled.pk)


@pytest.mark.parametrize("code", ["000000", "", "12345", "abcdef", "1" * 200])
def test_a_wrong_code_is_refused_and_counts_towards_the_lockout(enrolled, code):
    client = Client()
    sign_in(client, "pat")
    response = client.post(MFA_STEP, {"code": code}, REMOTE_ADDR="198.51.100.10")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    if code:
        assert AccessAttempt.objects.get(username="pat").failures_since_start == 1


def test_a_code_is_accepted_once_a_replay_is_refused(enrolled):
    code = totp_now()
    first = Client()
    sign_in(first, "pat")
    assert first.post(MFA_STEP, {"code": code})["Location"] == "/"

    second = Client()
    sign_in(second, "pat")
    replay = second.post(MFA_STEP, {"code": code})
    assert replay.status_code == 200 and "_auth_user_id" not in second.session


def test_a_recovery_code_works_once(enrolled):
    code = second_factor(enrolled)
    first = Client()
    sign_in(first, "pat")
    assert first.post(MFA_STEP, {"code": code})["Location"] == "/"
    second = Client()
    sign_in(second, "pat")
    assert second.post(MFA_STEP, {"code": code}).status_code == 200
    assert "_auth_user_id" not in second.session


def test_five_wrong_codes_lock_out_and_then_even_the_right_code_waits(enrolled, settings):
    client = Client()
    sign_in(client, "pat")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(MFA_STEP, {"code": "000000"}, REMOTE_ADDR="198.51.100.10")
    response = client.post(MFA_STEP, {"code": totp_now()}, REMOTE_ADDR="198.51.100.10")
    assert "_auth_user_id" not in client.session
    assert "Too many failed attempts" in response.content.decode()
    assert sign_in(Client(), "pat").status_code == 429


# --- who must enrol -------------------------------------------------------------------------

@pytest.fixture
def mfa_on(settings):
    settings.MFA_REQUIRED_GROUPS = ["Security", "Leadership", "Finance", "Auditors"]


def signed_in_through_the_form(user) -> Client:
    client = Client()
    assert sign_in(client, user.username).status_code == 302
    return client


@pytest.mark.parametrize("who, must", [("security", True), ("leadership", True), ("auditor", True),
                                       ("finance", True), ("owner", False), ("other_team", False)])
def test_the_required_groups_are_sent_to_enrolment_before_anything_else(mfa_on, personas, teams, who, must):
    user = member_of(teams["finance"], username="fran_finance") if who == "finance" else personas[who]
    client = signed_in_through_the_form(user)
    page = client.get("/" if who != "auditor" else "/audits/")
    api = client.get("/api/v1/controls/")
    if must:
        assert page.status_code == 302 and page["Location"] == "/accounts/2fa/totp/activate/"
        assert api.status_code == 403 and "two-factor" in api.json()["detail"]
        assert client.get("/accounts/2fa/totp/activate/").status_code == 200
    else:
        assert page.status_code == 200 and api.status_code == 200


def test_enrolling_opens_the_app_and_is_logged(mfa_on, personas, django_capture_on_commit_callbacks):
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    client = signed_in_through_the_form(personas["security"])
    page = client.get("/accounts/2fa/totp/activate/")
    assert 'src="data:image/svg+xml;base64,' in page.content.decode()  # the QR code
    secret = client.session[SECRET_SESSION_KEY]

    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert wrong.status_code == 200 and not Authenticator.objects.filter(user=personas["security"]).exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/accounts/2fa/totp/activate/", {"code": totp_now(secret)})
    assert done.status_code == 302
    assert client.get("/").status_code == 200
    assert Authenticator.objects.filter(user=personas["security"], type="totp").exists()
    assert ActivityLog.objects.filter(verb="account.mfa_added", object_id=str(personas["security"].pk)).exists()


def test_the_external_auditor_may_enrol_through_the_portal_guard(mfa_on, personas):
    client = signed_in_through_the_form(personas["auditor"])
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200
    assert client.get("/accounts/2fa/").status_code == 200


def test_a_code_used_through_one_server_process_is_refused_by_another(require_redis, enrolled, settings):
    """With Redis, every web process shares the used-code markers (gunicorn runs several)."""
    import uuid

    from django.core.cache import caches

    from soc2hub.auth import second_factor_verify

    import redis

    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": require_redis, "KEY_PREFIX": prefix}}
    code = totp_now()
    assert second_factor_verify(user=enrolled, code=code)
    server = redis.Redis.from_url(require_redis)
    assert server.keys(f"{prefix}:*allauth.mfa.totp.used*")  # the marker is on the server, for everyone
    caches["default"].close()
    del caches["default"]  # the next use opens a new connection, as another process would
    assert not second_factor_verify(user=enrolled, code=code)


def test_the_letter_case_of_a_username_does_not_reset_the_count(person, settings):
    """allauth finds "Pat" and "PAT" as pat: their failures count together."""
    for spelling in ["pat", "Pat", "PAT", "pAt"]:
        assert sign_in(Client(), spelling, "guess").status_code == 200
    assert sign_in(Client(), "paT", "guess").status_code == 429
    assert sign_in(Client(), "pat").status_code == 429
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"pat"}


def test_a_superuser_must_enrol_too(mfa_on, db):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = signed_in_through_the_form(root)
    assert client.get("/")["Location"] == "/accounts/2fa/totp/activate/"
    assert client.get("/admin/")["Location"] == "/accounts/2fa/totp/activate/"
