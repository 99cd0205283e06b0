"""pytest fixtures around the test identity provider, shared by ``tests/sso`` and the browser
journey (imported by ``tests/conftest.py``).

``idp`` starts one IdP for the whole session with two confidential clients (soc2hub, and
``other-app`` for the wrong-audience test) and a few people; ``idp_slow`` is a second instance
on the same data whose ID tokens expire after 1 s and whose token endpoint answers 2 s late.
``sso_settings(settings, idp)`` points soc2hub at an IdP, as ``soc2hub.settings`` does from
``OIDC_*`` variables.
"""

import pytest

from tests.idp.server import Idp, IdpError

IDP_NAME = "Example IdP"
PROVIDER_ID = "sso"
PASSWORD = "idp-password-1"
SOC2HUB = {"client_id": "soc2hub-tests", "secret": "soc2hub-client-secret",
           "redirect_uris": [f"http://testserver/accounts/oidc/{PROVIDER_ID}/login/callback/"]}
OTHER_APP = {"client_id": "other-app", "secret": "other-app-secret",
             "redirect_uris": ["http://other-app.test/callback"]}
# "all-staff" maps to nothing: it is there to be ignored.
GROUP_MAP = ("eng=team:engineering; security-team=team:security; security-team=role:Security; "
             "leaders=role:Leadership; hr-staff=team:hr")
PEOPLE = [
    {"username": "alice", "first_name": "Alice", "last_name": "Archer", "email": "alice@example.com",
     "groups": ["eng", "all-staff"]},
    {"username": "sam", "first_name": "Sam", "last_name": "Shield", "email": "sam@example.com",
     "groups": ["security-team", "all-staff"]},
    {"username": "uma", "first_name": "Uma", "last_name": "Unmapped", "email": "uma@example.com",
     "groups": ["all-staff"]},
]


def idp_person(username: str, **fields) -> dict:
    """An IdP account with the test password, active, named after ``username``."""
    return {"username": username, "password": PASSWORD, "active": True, "first_name": username.title(),
            "last_name": "Tester", "email": f"{username}@example.com", **fields}


def _launch(tmp_path_factory, name: str, **kwargs) -> Idp:
    from tests.conftest import missing

    try:
        return Idp.launch(tmp_path_factory.mktemp(name), **kwargs)
    except (IdpError, OSError) as exc:
        missing(f"the test identity provider ({exc})")


@pytest.fixture(scope="session")
def idp(tmp_path_factory):
    server = _launch(tmp_path_factory, "idp", state={
        "clients": [SOC2HUB, OTHER_APP], "users": [idp_person(**person) for person in PEOPLE]})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def idp_slow(idp, tmp_path_factory):
    server = _launch(tmp_path_factory, "idp-slow", database=idp.database,
                     env={"IDP_IDTOKEN_EXPIRE": "1", "IDP_TOKEN_DELAY": "2"})
    yield server
    server.stop()


def sso_settings(settings, idp: Idp, **app_settings) -> None:
    """soc2hub configured for ``idp`` the way ``soc2hub.settings`` builds it from ``OIDC_*``
    (the Content-Security-Policy's form-action follows ``OIDC_SERVER_URL``)."""
    settings.OIDC_SERVER_URL = idp.issuer
    settings.OIDC_PROVIDER_ID = PROVIDER_ID
    settings.OIDC_PROVIDER_NAME = IDP_NAME
    settings.OIDC_GROUP_MAP = GROUP_MAP
    settings.OIDC_ALLOWED_DOMAINS = []
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {
        **settings.SOCIALACCOUNT_PROVIDERS["openid_connect"],
        "APPS": [{
            "provider_id": PROVIDER_ID,
            "name": IDP_NAME,
            "client_id": SOC2HUB["client_id"],
            "secret": SOC2HUB["secret"],
            "settings": {"server_url": idp.issuer, "token_auth_method": "client_secret_post",
                         "auth_params": {"scope": "openid profile email groups"}, **app_settings},
        }],
    }}
