"""The admin shows audits read-only: changes go through the portal's checked, logged services."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_audits_are_read_only_in_the_admin(estate, client_for):
    admin = client_for(UserFactory(username="root", is_staff=True, is_superuser=True))
    audit = estate["audit_a"]
    for model in ("audit", "auditrequest", "auditcomment", "auditsample", "reportjob", "auditoraccess"):
        assert admin.get(f"/admin/audits/{model}/").status_code == 200, model
        assert admin.get(f"/admin/audits/{model}/add/").status_code == 403, model
    page = admin.get(f"/admin/audits/audit/{audit.pk}/change/")
    assert page.status_code == 200 and str(estate["auditor_a"]) in page.content.decode()
    before = audit.name
    admin.post(f"/admin/audits/audit/{audit.pk}/change/", {"name": "Renamed"})
    audit.refresh_from_db()
    assert audit.name == before
    assert admin.post(f"/admin/audits/audit/{audit.pk}/delete/", {"post": "yes"}).status_code == 403
