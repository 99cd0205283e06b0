"""The API's one road for errors (soc2hub.api_errors.exception_handler): views call services
directly, and what the services raise answers in the documented shapes:

* Django's ``ValidationError`` naming fields → 400 ``{"<field>": ["..."]}`` (``__all__`` →
  ``non_field_errors``); with a plain message → 400 ``{"non_field_errors": ["..."]}``;
* with code ``storage_full`` → 507 ``{"detail": "..."}``;
* Django's ``PermissionDenied`` → 403 ``{"detail": "<the reason>"}``.
"""

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audits.models import AuditAuditor
from nhi import services as nhi_services
from tests.audits.conftest import assign, make_audit
from tests.factories import CriterionFactory, Role, UserFactory
from tests.nhi.factories import days
from tests.nhi.test_pages import estate, world  # noqa: F401  (estate is a fixture)

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def owner(personas, client_for):
    return client_for(personas["owner"])


@pytest.fixture
def key(estate):  # noqa: F811
    return estate["hr-overdue-key"]


def test_the_handler_is_the_apis():
    assert settings.REST_FRAMEWORK["EXCEPTION_HANDLER"] == "soc2hub.api_errors.exception_handler"


def test_a_validation_error_naming_a_field_is_a_400_keyed_by_that_field(key, owner):
    before = world()
    response = post(owner, f"/api/v1/nhis/{key.pk}/rotate/", {"rotated_on": days(1).isoformat(),
                                                              "evidence_link": "https://git.example.com/pr/1"})

    assert (response.status_code, response.json()) == (400, {"rotated_on": ["The rotation date is in the future."]})
    assert world() == before


def test_a_validation_error_with_a_plain_message_is_a_400_under_non_field_errors(estate, owner):  # noqa: F811
    response = post(owner, f"/api/v1/nhis/{estate['hr-revoked-key'].pk}/revoke/", {"reason": "Again."})

    assert (response.status_code, response.json()) == (400, {"non_field_errors": ["hr-revoked-key is already revoked."]})


def test_all_in_a_field_dict_is_non_field_errors(key, owner, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError({"__all__": "Not now.", "reason": ["Too short.", "Too vague."]})

    monkeypatch.setattr(nhi_services, "nhi_revoke", refuse)
    response = post(owner, f"/api/v1/nhis/{key.pk}/revoke/", {"reason": "x"})

    assert (response.status_code, response.json()) == (400, {"non_field_errors": ["Not now."],
                                                              "reason": ["Too short.", "Too vague."]})


def test_a_full_store_is_a_507_with_the_reason(key, owner, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError("The file store is full; nothing was stored.", code="storage_full")

    monkeypatch.setattr(nhi_services, "nhi_revoke", refuse)
    response = post(owner, f"/api/v1/nhis/{key.pk}/revoke/", {"reason": "Leaked."})

    assert (response.status_code, response.json()) == (507, {"detail": "The file store is full; nothing was stored."})


def test_a_services_permission_denied_is_a_403_with_its_reason(key, owner, monkeypatch):
    def refuse(**kwargs):
        raise PermissionDenied("Only the identity's owner team may revoke it.")

    monkeypatch.setattr(nhi_services, "nhi_revoke", refuse)
    response = post(owner, f"/api/v1/nhis/{key.pk}/revoke/", {"reason": "Leaked."})

    assert (response.status_code, response.json()) == (403, {"detail": "Only the identity's owner team may revoke it."})


def test_a_selectors_permission_denied_is_a_403_with_its_reason(personas, client_for):
    """``audits.selectors.audit_for`` refuses an auditor whose access ended, saying so."""
    CriterionFactory(code="CC6.1", category="security")
    audit = make_audit(personas["security"])
    eve = UserFactory(username="eve_expired", roles=[Role.AUDITORS])
    assign(audit, personas["security"], eve)
    AuditAuditor.objects.filter(audit=audit, user=eve).update(
        access_ends_on=timezone.localdate() - dt.timedelta(days=1))

    response = client_for(eve).get(f"/api/v1/audits/{audit.pk}/")

    assert (response.status_code, response.json()) == (403, {"detail": "Your access to this audit has ended."})


# --- one road: no view converts errors itself ---------------------------------------------------

def api_modules() -> list[Path]:
    return sorted(path for path in ROOT.glob("*/api/**/*.py") if ".venv" not in path.parts)


def test_there_are_api_modules_to_check():
    assert {path.parent.parent.name for path in api_modules()} >= {"audits", "controls", "evidence", "exceptions",
                                                                    "nhi"}


@pytest.mark.parametrize("path", api_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_api_module_converts_service_errors_itself(path):
    source = path.read_text()
    assert not re.search(r"\bcall_service\b", source)
    assert not re.search(r"\bdef _run\b|\b_run\s*=", source)
    assert not re.search(r"\bas_drf_error\b", source)
    # API modules share helpers with pages through neutral modules, not the pages' views.
    assert not re.search(r"^\s*(from|import)\s+\w+\.views\b", source, re.MULTILINE)
