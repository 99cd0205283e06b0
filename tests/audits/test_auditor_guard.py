"""External auditors are read-only everywhere but their own requests, comments, samples and
report jobs: every URL the project serves is tried with every write method, and every
refusal is a 403 that changes nothing and lands in the auditor access log."""

import re

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from audits.models import AuditorAccess
from soc2hub import permissions

pytestmark = pytest.mark.django_db
GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
ROUTE_ARG = re.compile(r"<(?:(\w+):)?(\w+)>")


def _paths(patterns=None, prefix=""):
    """One concrete path per URL pattern, its arguments filled with plausible values."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        raw = str(entry.pattern)
        if "format" in raw:
            continue  # DRF's ``.json`` suffix twins of the same views
        part = ROUTE_ARG.sub(lambda m: "hr" if m.group(1) in ("slug",) else "1", raw)
        part = GROUP.sub("1", part).lstrip("^").rstrip("$").replace("\\", "")
        if isinstance(entry, URLResolver):
            yield from _paths(entry.url_patterns, prefix + part)
        elif isinstance(entry, URLPattern) and not re.search(r"[()\[\]*+?|]", part):
            yield "/" + prefix + part


def _world() -> dict:
    """Row counts of every table a write could touch (the access log aside: it records the attempts)."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()
            if model is not AuditorAccess and model._meta.app_label not in ("sessions",)}


def test_every_write_outside_the_auditors_own_is_refused_and_logged(estate, client_for):
    auditor = estate["auditor_a"]
    client = client_for(auditor)
    paths = sorted(set(_paths()))
    before = _world()
    tried = 0
    for path in paths:
        try:
            match = resolve(path)
        except Resolver404:
            continue
        if match.view_name in permissions.AUDITOR_WRITES:
            continue
        for method in ("post", "put", "patch", "delete"):
            logged = AuditorAccess.objects.count()
            response = getattr(client, method)(path, {} if method == "post" else "", **(
                {} if method == "post" else {"content_type": "application/json"}))
            assert response.status_code == 403, (method, path, response.status_code)
            entry = AuditorAccess.objects.order_by("-id").first()
            assert AuditorAccess.objects.count() == logged + 1
            assert (entry.user, entry.method, entry.status_code) == (auditor, method.upper(), 403)
            tried += 1
    assert tried > 200  # the walk reached the whole URL map, admin and API included
    assert _world() == before


def test_pages_outside_the_portal_are_refused_with_a_pointer_to_audits(estate, client_for):
    client = client_for(estate["auditor_a"])
    for path in ("/matrix/", "/controls/", "/evidence/", "/exceptions/", "/nhi/", "/teams/", "/activity/",
                 "/api/v1/controls/", "/api/v1/evidence-requests/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "through their audits" in response.content.decode(), path
    assert AuditorAccess.objects.filter(user=estate["auditor_a"], status_code=403).count() == 10


def test_an_auditor_may_still_sign_out(estate, client_for):
    client = client_for(estate["auditor_a"])
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/audits/").status_code == 302  # signed out: back to sign-in


def test_an_auditor_downloads_in_scope_approved_evidence_through_the_general_link_too(estate, client_for):
    client = client_for(estate["auditor_a"])
    ok = client.get(estate["q1_file"].get_download_url())
    assert ok.status_code == 200 and ok["Content-Disposition"].startswith("attachment")
    for outside in (estate["before_file"], estate["legal_file"]):
        assert client.get(outside.get_download_url()).status_code == 404
    entries = list(AuditorAccess.objects.filter(user=estate["auditor_a"]).order_by("id")
                   .values_list("is_download", "status_code"))
    assert entries == [(True, 200), (False, 404), (False, 404)]


def test_the_access_log_is_append_only(estate, client_for):
    from django.core.exceptions import ValidationError
    from django.db import connection, transaction

    client_for(estate["auditor_a"]).get("/audits/")
    entry = AuditorAccess.objects.get()
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        AuditorAccess.objects.update(status_code=200)
    with pytest.raises(ValidationError):
        entry.delete()
    with pytest.raises(Exception), transaction.atomic():  # the database refuses too
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audits_auditoraccess SET status_code = 200")


def test_signing_out_is_logged_too(estate, client_for):
    client_for(estate["auditor_a"]).post("/accounts/logout/")
    assert AuditorAccess.objects.filter(user=estate["auditor_a"], path="/accounts/logout/").exists()


def test_leaving_the_auditors_group_ends_every_assignment(estate, client_for):
    from django.contrib.auth.models import Group

    auditor = estate["auditor_a"]
    auditor.groups.remove(Group.objects.get(name="Auditors"))
    client = client_for(auditor)
    response = client.get(f"/audits/{estate['audit_a'].pk}/")
    assert response.status_code == 403 and "access to this audit has ended" in response.content.decode()
    assert client.get(estate["q1_file"].get_download_url()).status_code == 404
    assert client.get("/api/v1/evidence/").json()["count"] == 0


def test_an_auditor_in_a_team_sees_only_approved_evidence_of_other_teams_and_is_logged(estate, teams, personas,
                                                                                       client_for):
    """An internal auditor (in the Auditors group and a team) is not confined to the portal, but
    through their audit they see only approved evidence, and what they open is recorded."""
    from evidence import services as evidence_services
    from soc2hub.models import Membership
    from tests.evidence.factories import pdf

    auditor = estate["auditor_a"]
    Membership.objects.create(user=auditor, team=teams["finance"])
    q2 = estate["q2"]
    pending = evidence_services.evidence_submit(request=q2, actor=personas["owner"], files=[pdf("q2.pdf")])
    client = client_for(auditor)
    listed = {row["id"] for row in client.get("/api/v1/evidence/").json()["results"]}
    assert pending.pk not in listed
    assert estate["q1"].submissions.get().pk in listed
    assert client.get(f"/api/v1/evidence/{pending.pk}/").status_code == 404
    assert client.get(pending.files.get().get_download_url()).status_code == 404
    assert AuditorAccess.objects.filter(user=auditor).count() == 3
