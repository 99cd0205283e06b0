"""Error pages with DEBUG unset (as in production): each answers its status with soc2hub's own
page (JSON under /api/), says what happened and where to go, and shows nothing of Django's
debug pages: no traceback, no URL map, no settings, no exception text."""

import pytest
from django.test import Client

from tests.security_headers import DEBUG_MARKERS, body_of, debug_markers_in, policy_nonce
from tests.soc2hub.error_urls import SECRET_DETAIL

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.soc2hub.error_urls")]


@pytest.fixture(autouse=True)
def _debug_unset(settings):
    # pytest-django runs with DEBUG off, which is also the settings' default now.
    assert settings.DEBUG is False


def branded(response, status: int, heading: str) -> str:
    assert response.status_code == status, response.status_code
    assert response["Content-Type"].startswith("text/html")
    body = body_of(response)
    assert 'data-testid="error-page"' in body and heading in body
    assert "soc2hub" in body and ("Back to the overview" in body or "Sign in" in body)
    assert not debug_markers_in(body), debug_markers_in(body)
    assert SECRET_DETAIL not in body and "hunter2" not in body
    policy_nonce(response)
    return body


def json_error(response, status: int) -> dict:
    assert response.status_code == status, response.status_code
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"detail"}
    assert not debug_markers_in(data["detail"]) and SECRET_DETAIL not in data["detail"]
    return data


@pytest.fixture
def security_client(personas, client_for):
    return client_for(personas["security"])


# --- pages ---------------------------------------------------------------------------------


def test_missing_page_for_anonymous_offers_sign_in(client):
    body = branded(client.get("/no-such-page/"), 404, "Not found")
    assert "Sign in" in body


def test_missing_page_for_a_signed_in_person(personas, client_for):
    body = branded(client_for(personas["owner"]).get("/no-such-page/"), 404, "Not found")
    assert "Back to the overview" in body and "harriet_hr" in body  # the product's frame, signed in
    assert "urlpatterns" not in body and "admin/" not in body


def test_missing_object_does_not_repeat_the_views_message(personas, client_for):
    body = branded(client_for(personas["security"]).get("/audits/999999/"), 404, "Not found")
    assert "No Audit matches" not in body


def test_forbidden_page(personas, client_for):
    # The activity log is for Security and Leadership; an HR member is refused.
    body = branded(client_for(personas["owner"]).get("/activity/"), 403, "have access to this")
    assert "Nothing was changed" in body


def test_forbidden_view_gives_the_refusal_reason(personas, client_for):
    body = branded(client_for(personas["owner"]).get("/test-errors/forbidden/"), 403,
"have access to this")
    assert "Only Security may open this." in body


def test_csrf_failure(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["owner"])
    body = branded(client.post("/test-errors/form/", {"note": "hello"}), 403, "This form has expired")
    assert "reload the page" in body
    # Django's reason stays in the log.
    assert "CSRF cookie not set" not in body and "CSRF_FAILURE_VIEW" not in body


def test_csrf_failure_on_a_real_form(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["owner"])
    branded(client.post("/notifications/read/"), 403, "This form has expired")


def test_bad_request(client):
    branded(client.get("/test-errors/bad/"), 400, "soc2hub could not read this request")


def test_unknown_host_is_a_bad_request(client):
    branded(client.get("/", HTTP_HOST="soc2hub.attacker.example"), 400, "soc2hub could not read this request")


def test_server_error(personas):
    client = Client(raise_request_exception=False)
    client.force_login(personas["owner"])
    body = branded(client.get("/test-errors/boom/"), 500, "Something went wrong")
    assert "The error has been logged" in body


# --- the API answers in JSON -----------------------------------------------------------------


def test_api_missing_path(security_client):
    assert json_error(security_client.get("/api/v1/no-such-endpoint/"), 404) == {"detail": "Not found."}


def test_api_server_error(personas):
    client = Client(raise_request_exception=False)
    client.force_login(personas["owner"])
    json_error(client.get("/api/test-errors/boom/"), 500)


def test_api_bad_request(client):
    json_error(client.get("/api/test-errors/bad/"), 400)


def test_api_forbidden(personas, client_for):
    json_error(client_for(personas["owner"]).get("/api/test-errors/forbidden/"), 403)


def test_api_csrf_failure(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["owner"])
    json_error(client.post("/api/test-errors/form/"), 403)


def test_debug_markers_are_what_the_debug_page_prints(settings, client):
    """The markers above would catch Django's technical 404 page, were it ever shown."""
    settings.DEBUG = True
    body = body_of(client.get("/no-such-page/"))
    assert set(debug_markers_in(body)) >= {"Request Method", "URLconf"}, DEBUG_MARKERS
