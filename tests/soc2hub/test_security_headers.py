"""The headers every answer carries: the Content-Security-Policy exactly as shipped (with single
sign-on's issuer in form-action when one is set), the Permissions-Policy, and the sandbox
policy that downloads keep instead."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.evidence.factories import make_request, make_template, pdf, submit
from tests.security_headers import DOWNLOAD_POLICY, policy_nonce

pytestmark = pytest.mark.django_db

SHIPPED = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def test_the_policy_reads_the_same_on_every_answer(client, personas, client_for):
    for response in (client.get("/accounts/login/"), client.get("/no-such-page/"),
                     client_for(personas["security"]).get("/matrix/"), client.get("/healthz")):
        nonce = policy_nonce(response)
        assert response["Content-Security-Policy"] == SHIPPED.format(nonce=nonce)


def test_each_answer_has_its_own_nonce(client):
    nonces = {policy_nonce(client.get("/accounts/login/")) for _ in range(5)}
    assert len(nonces) == 5


def test_the_page_uses_the_policys_nonce(client):
    response = client.get("/accounts/login/")
    nonce = policy_nonce(response)
    body = response.content.decode()
    assert body.count(f'nonce="{nonce}"') >= 3  # htmx, Bootstrap, soc2hub.js


def test_single_sign_on_issuer_may_receive_the_sign_in_form(client, settings):
    settings.OIDC_SERVER_URL = "https://idp.example.com/realms/acme"
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    assert "form-action 'self' https://idp.example.com;" in policy


def test_permissions_policy(client):
    header = client.get("/accounts/login/")["Permissions-Policy"]
    features = dict(item.split("=", 1) for item in header.split(", "))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "serial", "hid"):
        assert features[feature] == "()", feature
    assert features["publickey-credentials-get"] == features["publickey-credentials-create"] == "(self)"


def test_downloads_keep_their_sandbox(teams, personas, client_for):
    template = make_template(teams["hr"], title="Termination tickets", starts_on=dt.date(2026, 1, 1))
    request = make_request(template, due_on=timezone.localdate() + dt.timedelta(days=10))
    evidence_file = submit(request, personas["owner"], pdf("leavers.pdf")).files.get()
    for url in (f"/evidence/files/{evidence_file.pk}/download/",
                f"/api/v1/evidence-files/{evidence_file.pk}/download/"):
        response = client_for(personas["owner"]).get(url)
        b"".join(response.streaming_content)
        assert response.status_code == 200
        assert response["Content-Security-Policy"] == DOWNLOAD_POLICY
