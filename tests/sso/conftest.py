"""Single sign-on against the real test IdP (``tests.idp``), through the authorization-code flow.

A test plays one person's browser with two halves: Django's test client for soc2hub (so the
test sees soc2hub's pages and database) and a ``requests`` session for the IdP, which runs in its
own process. ``person.sign_in("alice")`` clicks "Sign in with Example IdP", signs in on the IdP's
login page, follows its redirects back to soc2hub's callback and returns soc2hub's answer.
"""

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from tests.idp.fixtures import PASSWORD, PROVIDER_ID, sso_settings

SOC2HUB_ORIGIN = "http://testserver"


@pytest.fixture
def sso(settings, idp, teams):
    """soc2hub pointed at the session's IdP, with the teams the group map names."""
    sso_settings(settings, idp)
    return idp


class IdpPage(Exception):
    """The IdP answered with a page of its own instead of sending the person back."""

    def __init__(self, response: requests.Response):
        super().__init__(f"{response.status_code} at {response.url}")
        self.response = response


class Person:
    """One person's browser: soc2hub through ``client``, the IdP through ``idp_session``."""

    def __init__(self, client: Client | None = None):
        self.client = client or Client()
        self.idp_session = requests.Session()

    def start(self, process: str = "login") -> str:
        """Clicks "Sign in with Example IdP"; returns the IdP's authorization URL."""
        response = self.client.post(reverse("openid_connect_login", kwargs={"provider_id": PROVIDER_ID}),
                                    {"process": process})
        assert response.status_code == 302, response.content[:500]
        return response["Location"]

    def at_idp(self, url: str, username: str, password: str = PASSWORD, back_to: str = SOC2HUB_ORIGIN) -> str:
        """Follows the IdP from ``url``, signing in on its login page when it asks; returns the
        URL it sends the browser back to soc2hub (or ``back_to``) with, not followed."""
        signed_in = False
        for _ in range(10):
            response = self.idp_session.get(url, allow_redirects=False, timeout=30)
            if response.is_redirect:
                location = urljoin(url, response.headers["Location"])
                if location.startswith(back_to):
                    return location
                url = location
                continue
            if "/login/" in response.url and not signed_in:
                csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
                posted = self.idp_session.post(url, allow_redirects=False, timeout=30, data={
                    "csrfmiddlewaretoken": csrf, "username": username, "password": password,
                    "next": parse_qs(urlsplit(url).query).get("next", [""])[0]})
                if not posted.is_redirect:
                    raise IdpPage(posted)
                signed_in = True
                url = urljoin(url, posted.headers["Location"])
                continue
            raise IdpPage(response)
        raise AssertionError("the IdP kept redirecting")

    def back_at_soc2hub(self, callback_url: str):
        """The browser arrives at soc2hub's callback."""
        parts = urlsplit(callback_url)
        assert f"{parts.scheme}://{parts.netloc}" == SOC2HUB_ORIGIN, callback_url
        return self.client.get(f"{parts.path}?{parts.query}")

    def sign_in(self, username: str, password: str = PASSWORD):
        return self.back_at_soc2hub(self.at_idp(self.start(), username, password))

    def signed_in_as(self):
        """The soc2hub user this browser is signed in as, or None."""
        from django.contrib.auth import get_user

        request = type("Request", (), {"session": self.client.session})()
        user = get_user(request)
        return user if user.is_authenticated else None


@pytest.fixture
def person(sso):
    return Person()


@pytest.fixture
def make_person(sso):
    return Person
