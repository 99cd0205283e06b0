"""The API root (``GET /api/v1/``): every signed-in persona gets the index of the endpoints it
may list, and nothing else; anonymous callers are refused as on every other endpoint."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.views import APIView

from audits.models import AuditorAccess
from soc2hub.permissions import ApiPermission

EVERYONE = {"teams", "criteria", "controls", "exceptions", "nhis", "attestation-campaigns", "evidence-templates",
            "evidence-requests", "evidence", "audit-requests"}
ROOT = {
    "anonymous": None,
    "other_team": EVERYONE,
    "owner": EVERYONE,
    "security": EVERYONE | {"activity", "job-runs", "nhi-imports", "audits", "reports"},
    "leadership": EVERYONE | {"activity", "audits", "reports"},
    # An external auditor reads the programme only through their audits.
    "auditor": {"audits", "audit-requests", "reports"},
}


@pytest.mark.parametrize("persona", ROOT)
def test_the_root_lists_what_each_persona_may_open(personas, client_for, persona):
    client = client_for(personas[persona])

    response = client.get("/api/v1/", HTTP_ACCEPT="application/json")

    if ROOT[persona] is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == ROOT[persona]
    for name, url in body.items():
        assert url == f"http://testserver/api/v1/{name}/"
        assert client.get(url, HTTP_ACCEPT="application/json").status_code == 200, name


def test_the_root_answers_in_the_browsable_api_too(personas, client_for):
    response = client_for(personas["owner"]).get("/api/v1/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"/api/v1/nhis/" in response.content and b"/api/v1/activity/" not in response.content


def test_the_auditors_visit_to_the_root_is_logged(personas, client_for):
    client_for(personas["auditor"]).get("/api/v1/")
    assert list(AuditorAccess.objects.values_list("path", "status_code")) == [("/api/v1/", 200)]


@pytest.mark.parametrize("method, allowed", [("get", True), ("head", True), ("options", True), ("post", False),
                                             ("delete", False)])
def test_a_view_without_a_queryset_is_read_only_for_the_signed_in(personas, method, allowed):
    view = APIView()  # no get_queryset, no queryset, no action
    request = Request(getattr(RequestFactory(), method)("/"))
    request.user = personas["owner"]
    assert ApiPermission().has_permission(request, view) is allowed
    request.user = AnonymousUser()
    assert ApiPermission().has_permission(request, view) is False


def test_writes_to_the_root_are_refused(personas, client_for):
    response = client_for(personas["security"]).post("/api/v1/", {})
    assert response.status_code in (403, 405)
