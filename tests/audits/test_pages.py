"""The audit pages as Security and the auditors use them: what each page shows (and leaves
out), the empty states, the forms with good and bad input, the filters, the PBC round trip,
samples that draw again the same, report progress, the access log, and query counts that stay
flat as the data grows.

The estate (tests/audits/conftest.py): audit A (Security only) audited by Ada; audit B
(Security and Privacy) by Bo; Eve's access to A ended yesterday. HR-01's quarterly standard has
Q4 2025 approved (before the window), Q1 2026 approved and Q2 2026 overdue (a gap); ENG-01 has
no standard. Today is after the window.
"""

import datetime as dt
import re

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audits import services
from audits.models import Audit, AuditAuditor, AuditorAccess, AuditRequest, AuditSample, ReportJob
from evidence.models import Cadence, EvidenceRequest
from exceptions.models import ExceptionRecord
from soc2hub.models import ActivityLog
from tests.audits.conftest import approve, assign
from tests.evidence.factories import make_request, make_template, pdf
from tests.factories import ControlFactory, Role, UserFactory

pytestmark = pytest.mark.django_db


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def soon(days=14) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def rows(body: str, attr: str) -> list[str]:
    """The values of ``data-<attr>`` on the page, in order."""
    return re.findall(rf'data-{attr}="([^"]*)"', body)


@pytest.fixture
def security(personas):
    return personas["security"]


@pytest.fixture
def a(estate):
    return estate["audit_a"]


def fieldwork(audit, security):
    services.audit_set_status(audit=audit, actor=security, status="fieldwork")
    audit.refresh_from_db()


# --- the list and the way in ---------------------------------------------------------------

def test_security_lists_every_audit_and_can_create_one(estate, security, client_for):
    body = html(client_for(security).get("/audits/"))
    assert rows(body, "audit") == [str(estate["audit_b"].pk), str(estate["audit_a"].pk)]
    assert "New audit" in body and "Example &amp; Co LLP" in body and "01 Jan 2026 – 30 Jun 2026" in body


def test_leadership_reads_the_list_without_creating(estate, personas, client_for):
    body = html(client_for(personas["leadership"]).get("/audits/"))
    assert len(rows(body, "audit")) == 2 and "New audit" not in body


def test_an_auditor_lists_only_their_current_audits_with_the_end_of_their_access(estate, client_for):
    body = html(client_for(estate["auditor_a"]).get("/audits/"))
    assert rows(body, "audit") == [str(estate["audit_a"].pk)]
    ends = AuditAuditor.objects.get(audit=estate["audit_a"], user=estate["auditor_a"]).access_ends_on
    assert ends.strftime("%-d %b %Y") in body and "New audit" not in body


def test_empty_states(db, teams, personas, client_for):
    body = html(client_for(personas["security"]).get("/audits/"))
    assert 'data-testid="audits-empty"' in body and "Create the first one" in body
    body = html(client_for(personas["auditor"]).get("/audits/"))
    assert "You are not assigned to an audit yet" in body


def test_home_takes_an_auditor_straight_to_their_only_audit(estate, security, client_for):
    client = client_for(estate["auditor_a"])
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == f"/audits/{estate['audit_a'].pk}/"
    assign(estate["audit_b"], security, estate["auditor_a"])
    assert client.get("/")["Location"] == "/audits/"
    assert client_for(security).get("/").status_code == 200


def test_the_auditors_nav_shows_audits_and_nothing_else(estate, security, client_for):
    body = html(client_for(estate["auditor_a"]).get("/audits/"))
    nav = body[body.index('<nav class="navbar'):body.index("</nav>")]
    assert 'href="/audits/"' in nav and "Notifications" in nav and "Sign out" in nav
    for other in ("/matrix/", "/controls/", "/evidence/", "/exceptions/", "/nhi/", "/teams/", "More"):
        assert other not in nav, other
    nav = html(client_for(security).get("/audits/"))
    assert 'href="/audits/"' in nav and 'href="/matrix/"' in nav


# --- creating and editing ------------------------------------------------------------------

def form(**overrides) -> dict:
    data = {"name": "FY27 SOC 2", "firm": "Audit & Co", "type": "type2", "period_start": "2027-01-01",
            "period_end": "2027-12-31", "categories": ["availability"]}
    data.update(overrides)
    return data


def test_the_form_keeps_security_always_in_scope(db, teams, security, client_for):
    body = html(client_for(security).get("/audits/new/"))
    assert re.search(r'id="id_categories_0" checked disabled', body)
    assert '<input type="hidden" name="categories" value="security">' in body
    response = client_for(security).post("/audits/new/", form())
    audit = Audit.objects.get(name="FY27 SOC 2")
    assert response.status_code == 302 and response["Location"] == f"/audits/{audit.pk}/"
    assert audit.categories == ["security", "availability"] and audit.created_by == security


def test_a_type_i_audit_keeps_only_its_as_of_date(db, teams, security, client_for):
    client_for(security).post("/audits/new/", form(type="type1", as_of="2026-09-30"))
    audit = Audit.objects.get()
    assert (audit.as_of, audit.period_start, audit.period_end) == (dt.date(2026, 9, 30), None, None)


@pytest.mark.parametrize("overrides, field, message", [
    ({"period_start": "", "period_end": ""}, "period_start", "needs the start of its observation period"),
    ({"period_end": "2026-12-01"}, "period_end", "cannot end before it starts"),
    ({"period_end": "2030-01-01"}, "period_end", "at most two years"),
    ({"type": "type1", "as_of": ""}, "as_of", "needs the date it speaks to"),
    ({"name": ""}, "name", "This field is required."),
    ({"type": "type3"}, "type", "Select a valid choice."),
    ({"period_start": "not a date"}, "period_start", "Enter a valid date."),
])
def test_bad_input_is_shown_on_its_field_and_nothing_is_saved(db, teams, security, client_for, overrides, field,
                                                               message):
    response = client_for(security).post("/audits/new/", form(**overrides))
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-testid="form-errors"' in body
    errors = re.search(rf'id="id_{field}_errors">([^<]*)<', body)
    assert errors and message in errors.group(1), body[:200]
    assert not Audit.objects.exists()


def test_every_error_of_the_form_shows_at_once(db, teams, security, client_for):
    response = client_for(security).post("/audits/new/", form(name="", period_end="2026-01-01"))
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_name_errors"' in body and "cannot end before it starts" in body


def test_security_edits_an_audit(estate, a, security, client_for):
    response = client_for(security).post(f"/audits/{a.pk}/edit/", form(name="FY26 renamed", period_start="2026-01-01",
                                                                       period_end="2026-06-30"))
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.name == "FY26 renamed" and a.categories == ["security", "availability"]
    body = html(client_for(security).get(f"/audits/{a.pk}/edit/"))
    assert 'value="FY26 renamed"' in body and 'value="2026-01-01"' in body


def test_a_closed_audit_no_longer_changes(estate, a, security, client_for):
    services.audit_set_status(audit=a, actor=security, status="closed")
    response = client_for(security).post(f"/audits/{a.pk}/edit/", form(name="Too late"), follow=True)
    assert response.redirect_chain == [(f"/audits/{a.pk}/", 302)]
    assert "A closed audit no longer changes." in response.content.decode()
    a.refresh_from_db()
    assert a.name != "Too late"


# --- the overview --------------------------------------------------------------------------

def test_the_overview_for_security(estate, a, security, client_for):
    body = html(client_for(security).get(f"/audits/{a.pk}/"))
    assert "FY26 SOC 2 Type II" in body and "Example &amp; Co LLP" in body and "Planning" in body
    assert 'data-testid="gap-summary"' in body
    assert re.search(r'data-testid="gap-count">1<', body)
    assert "ENG-01" in body and "No evidence standard" in body  # ENG-01 has no standard: a gap too
    assert "The auditors see this once fieldwork starts." in body
    assert rows(body, "auditor") == ["ada_auditor", "eve_expired"]
    assert body.count(">Current</span>") == 1 and body.count(">Ended</span>") == 1
    assert "Move to fieldwork" in body and "Move to closed" in body and "Move to reporting" not in body
    assert 'data-testid="auditor-form"' in body
    assert f"/audits/{a.pk}/access/" in body


def test_the_overview_for_an_auditor_is_read_only(estate, a, security, client_for):
    fieldwork(a, security)
    body = html(client_for(estate["auditor_a"]).get(f"/audits/{a.pk}/"))
    assert "Read-only access until" in body and 'data-testid="gap-summary"' in body
    assert "Move to" not in body and 'data-testid="auditor-form"' not in body and "End access now" not in body
    assert "/edit/" not in body and "/access/" not in body


def test_security_moves_the_status_and_is_told_when_a_move_is_illegal(estate, a, security, client_for):
    client = client_for(security)
    response = client.post(f"/audits/{a.pk}/status/", {"status": "fieldwork"}, follow=True)
    assert "The audit is now in fieldwork." in response.content.decode()
    response = client.post(f"/audits/{a.pk}/status/", {"status": "planning"}, follow=True)
    assert "cannot move to planning" in response.content.decode()
    a.refresh_from_db()
    assert a.status == "fieldwork"


def test_security_adds_an_auditor_changes_the_date_and_ends_access(estate, a, security, client_for):
    newcomer = UserFactory(username="nia_auditor", roles=[Role.AUDITORS])
    client = client_for(security)
    ends = soon(45)
    response = client.post(f"/audits/{a.pk}/auditors/", {"user": newcomer.pk, "access_ends_on": ends.isoformat()})
    assert response.status_code == 302
    assert AuditAuditor.objects.get(audit=a, user=newcomer).access_ends_on == ends
    client.post(f"/audits/{a.pk}/auditors/", {"user": newcomer.pk, "access_ends_on": soon(5).isoformat()})
    assert AuditAuditor.objects.get(audit=a, user=newcomer).access_ends_on == soon(5)
    client.post(f"/audits/{a.pk}/auditors/end/", {"user": newcomer.pk})
    assert AuditAuditor.objects.get(audit=a, user=newcomer).access_ends_on < timezone.localdate()
    assert client_for(newcomer).get(f"/audits/{a.pk}/").status_code == 403


def test_the_auditor_form_shows_its_errors(estate, a, security, client_for, personas):
    client = client_for(security)
    newcomer = UserFactory(username="nia_auditor", roles=[Role.AUDITORS])
    response = client.post(f"/audits/{a.pk}/auditors/", {"user": newcomer.pk, "access_ends_on": "2020-01-01"})
    assert response.status_code == 400
    assert "Access must end today or later" in response.content.decode()
    response = client.post(f"/audits/{a.pk}/auditors/", {"user": personas["owner"].pk,
                                                         "access_ends_on": soon().isoformat()})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not AuditAuditor.objects.filter(user__in=[newcomer, personas["owner"]]).exists()


# --- coverage ------------------------------------------------------------------------------

def test_the_coverage_matrix_shows_each_period_in_words(estate, a, security, client_for):
    body = html(client_for(security).get(f"/audits/{a.pk}/coverage/"))
    assert rows(body, "criterion") == ["CC6.1", "CC7.2"]
    assert re.search(r'data-testid="count-expected">2<', body) and re.search(r'data-testid="count-gaps">1<', body)
    assert "2026-Q1 · Approved" in body and "2026-Q2 · Gap" in body and "2025-Q4" not in body
    assert f'href="/audits/{a.pk}/evidence/{estate["q1"].pk}/"' in body
    assert "Gap · no evidence standard" in body  # ENG-01
    assert "PRV-01" not in body and "P4.1" not in body
    assert 'id="coverage-data"' in body and '"values": [1, 0, 1]' in body


def test_coverage_filters_only_gaps_and_one_criterion(estate, a, security, personas, teams, client_for):
    covered = ControlFactory(ref="HR-02", evidence_owner=teams["hr"], criteria=[estate["cc61"]])
    template = make_template(teams["hr"], control=covered, cadence=Cadence.SEMI_ANNUAL,
                             starts_on=dt.date(2025, 1, 1), title="Access recertification")
    approve(make_request(template, due_on=dt.date(2026, 7, 14), period_start=dt.date(2026, 1, 1)),
            personas["owner"], security)
    client = client_for(security)
    body = html(client.get(f"/audits/{a.pk}/coverage/"))
    assert set(rows(body, "control")) == {"HR-01", "HR-02", "ENG-01"}
    body = html(client.get(f"/audits/{a.pk}/coverage/?gaps=1"))
    assert set(rows(body, "control")) == {"HR-01", "ENG-01"}  # HR-02 is fully approved
    body = html(client.get(f"/audits/{a.pk}/coverage/?criterion=CC7.2"))
    assert rows(body, "criterion") == ["CC7.2"] and set(rows(body, "control")) == {"ENG-01"}
    body = html(client.get(f"/audits/{a.pk}/coverage/?criterion=ZZ9"))
    assert "Nothing matches these filters" in body


# --- scope ---------------------------------------------------------------------------------

def test_criteria_and_controls_in_scope_with_their_owners(estate, security, teams, client_for):
    ControlFactory(ref="SEC-01", business_owner=teams["security"], control_owner=teams["security"],
                   evidence_owner=teams["security"], criteria=[estate["cc72"]])
    ControlFactory(ref="GAP-01", business_owner=teams["hr"], criteria=[estate["cc72"]])
    client = client_for(security)
    body = html(client.get(f"/audits/{estate['audit_a'].pk}/scope/"))
    assert rows(body, "criterion") == ["CC6.1", "CC7.2"] and "PRV-01" not in body
    assert rows(body, "control") == ["HR-01", "ENG-01", "GAP-01", "SEC-01"]
    assert "Security-only" in body and "Unassigned" in body
    body = html(client.get(f"/audits/{estate['audit_a'].pk}/scope/?flag=security_only"))
    assert rows(body, "control") == ["SEC-01"]
    body = html(client.get(f"/audits/{estate['audit_a'].pk}/scope/?flag=unassigned"))
    assert rows(body, "control") == ["GAP-01"]
    body = html(client.get(f"/audits/{estate['audit_b'].pk}/scope/"))
    assert "P4.1" in body and "PRV-01" in body and "Legal" in body


def test_auditors_see_owners_without_links_into_the_programme(estate, client_for):
    body = html(client_for(estate["auditor_a"]).get(f"/audits/{estate['audit_a'].pk}/scope/"))
    assert "HR" in body and 'href="/teams/' not in body and 'href="/controls/' not in body


# --- evidence ------------------------------------------------------------------------------

def test_evidence_requests_of_the_window_only(estate, a, client_for):
    body = html(client_for(estate["auditor_a"]).get(f"/audits/{a.pk}/evidence/"))
    assert rows(body, "request") == [str(estate["q1"].pk), str(estate["q2"].pk)]
    assert str(estate["before"].pk) not in rows(body, "request")


def test_evidence_filters_sort_and_paginate(estate, a, teams, security, client_for):
    client = client_for(estate["auditor_a"])
    url = f"/audits/{a.pk}/evidence/"
    assert rows(html(client.get(url + "?status=approved")), "request") == [str(estate["q1"].pk)]
    assert rows(html(client.get(url + "?period=2026-Q2")), "request") == [str(estate["q2"].pk)]
    assert rows(html(client.get(url + "?control=ENG-01")), "request") == []
    assert rows(html(client.get(url + "?ordering=-period")), "request") == [str(estate["q2"].pk),
                                                                           str(estate["q1"].pk)]
    body = html(client.get(url + "?control=PRV-01&status=approved"))  # not A's control: ignored, said so
    assert "Some filters were not understood" in body and rows(body, "request") == [str(estate["q1"].pk)]
    body = html(client.get(url + "?period=1999"))
    assert "No requests match these filters" in body
    for n in range(5):
        monthly = make_template(teams["hr"], control=estate["hr_control"], cadence=Cadence.MONTHLY,
                                starts_on=dt.date(2024, 1, 1), title=f"Monthly access review {n}")
        for month in range(1, 7):
            make_request(monthly, due_on=dt.date(2026, month, 20), period_start=dt.date(2026, month, 1))
    body = html(client.get(url))
    assert len(rows(body, "request")) == 25 and "Page 1 of 2" in body
    assert len(rows(html(client.get(url + "?page=2")), "request")) == 7


def test_evidence_detail_shows_approved_evidence_with_portal_downloads(estate, a, client_for):
    client = client_for(estate["auditor_a"])
    body = html(client.get(f"/audits/{a.pk}/evidence/{estate['q1'].pk}/"))
    assert "q1-2026-leavers.pdf" in body
    assert f'href="/audits/{a.pk}/files/{estate["q1_file"].pk}/download/"' in body
    assert "Open the team&#x27;s request" not in body and "/evidence/requests/" not in body
    body = html(client.get(f"/audits/{a.pk}/evidence/{estate['q2'].pk}/"))
    assert 'data-testid="no-approved"' in body and "It was due on" in body


def test_pending_evidence_is_never_shown_to_the_auditor(estate, a, personas, client_for):
    from evidence import services as evidence_services

    evidence_services.evidence_submit(request=estate["q2"], actor=personas["owner"], files=[pdf("q2-draft.pdf")])
    body = html(client_for(estate["auditor_a"]).get(f"/audits/{a.pk}/evidence/{estate['q2'].pk}/"))
    assert "q2-draft.pdf" not in body and "in review by Security" in body
    pending = estate["q2"].submissions.get().files.get()
    assert client_for(estate["auditor_a"]).get(f"/audits/{a.pk}/files/{pending.pk}/download/").status_code == 404


def test_security_gets_a_link_to_the_teams_request(estate, a, security, client_for):
    body = html(client_for(security).get(f"/audits/{a.pk}/evidence/{estate['q1'].pk}/"))
    assert f'href="/evidence/requests/{estate["q1"].pk}/"' in body


def test_a_download_is_an_attachment_and_logged(estate, a, client_for):
    client = client_for(estate["auditor_a"])
    response = client.get(f"/audits/{a.pk}/files/{estate['q1_file'].pk}/download/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="q1-2026-leavers.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    row = AuditorAccess.objects.latest("pk")
    assert row.is_download and row.status_code == 200 and row.audit_id == a.pk
    assert ActivityLog.objects.filter(verb="evidence.downloaded", actor=estate["auditor_a"]).count() == 1


# --- exceptions and identities -------------------------------------------------------------

def test_the_exception_register_as_of_the_window(estate, a, personas, teams, client_for):
    from tests.exceptions.factories import make_exception

    body = html(client_for(estate["auditor_a"]).get(f"/audits/{a.pk}/exceptions/"))
    assert 'data-testid="exceptions-empty"' in body
    in_force = make_exception(personas["owner"], teams["hr"], controls=[estate["hr_control"]],
                              title="Contractor keeps access")
    draft = make_exception(personas["owner"], teams["hr"], title="Still a draft")
    ExceptionRecord.objects.filter(pk=in_force.pk).update(status="submitted",
                                                          created_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    late = make_exception(personas["owner"], teams["hr"], title="Raised after the window")
    ExceptionRecord.objects.filter(pk=late.pk).update(status="submitted")
    body = html(client_for(estate["auditor_a"]).get(f"/audits/{a.pk}/exceptions/"))
    assert rows(body, "exception") == [str(in_force.pk)]
    assert "Contractor keeps access" in body and "HR-01" in body and "Bastion only" in body
    assert f'href="/exceptions/{in_force.pk}/"' not in body  # auditors stay in the audit
    assert draft.title not in body
    body = html(client_for(personas["security"]).get(f"/audits/{a.pk}/exceptions/"))
    assert f'href="/exceptions/{in_force.pk}/"' in body


def test_the_nhi_inventory_as_of_the_window(estate, a, teams, client_for):
    from tests.nhi.factories import make_nhi

    body = html(client_for(estate["auditor_a"]).get(f"/audits/{a.pk}/identities/"))
    assert 'data-testid="nhi-empty"' in body and "nhi-kind-chart" not in body
    make_nhi(teams["hr"], "payroll-key", created_on=dt.date(2025, 6, 1))
    make_nhi(teams["hr"], "old-bot", kind="bot", created_on=dt.date(2025, 1, 1), revoked_on=dt.date(2026, 3, 1),
             status="revoked")
    make_nhi(None, "later-key", created_on=dt.date(2026, 9, 1))
    body = html(client_for(estate["auditor_a"]).get(f"/audits/{a.pk}/identities/"))
    assert re.search(r'data-testid="nhi-total">2<', body) and re.search(r'data-testid="nhi-revoked">1<', body)
    assert re.search(r'data-testid="nhi-live">1<', body)
    assert "nhi-kind-chart" in body and '"revoked": [0, 0, 0, 0, 1, 0, 0, 0]' in body
    assert "payroll-key" not in body  # a summary: no identity is named


# --- the PBC list --------------------------------------------------------------------------

def raise_form(estate, **overrides) -> dict:
    data = {"control": estate["hr_control"].pk, "criterion": "", "title": "Leaver tickets",
            "description": "Every leaver ticket closed in Q1.", "due_on": soon().isoformat()}
    data.update(overrides)
    return data


def test_the_raise_form_offers_only_the_audits_scope(estate, a, client_for):
    body = html(client_for(estate["auditor_a"]).get(f"/audits/{a.pk}/requests/new/"))
    assert "HR-01 — " in body and "ENG-01 — " in body and "PRV-01" not in body
    assert "CC6.1 — " in body and "P4.1" not in body


def test_an_auditor_raises_a_request_routed_to_the_evidence_owner(estate, a, client_for):
    client = client_for(estate["auditor_a"])
    response = client.post(f"/audits/{a.pk}/requests/new/", raise_form(estate))
    audit_request = AuditRequest.objects.get(audit=a)
    assert response.status_code == 302 and response["Location"] == f"/audits/{a.pk}/requests/1/"
    assert audit_request.evidence_request.owner_team.slug == "hr" and audit_request.raised_by == estate["auditor_a"]
    body = html(client.get(f"/audits/{a.pk}/requests/"))
    assert rows(body, "pbc") == ["1"] and "With the team" in body
    body = html(client.get(f"/audits/{a.pk}/requests/1/"))
    assert "PBC-1" in body and "Every leaver ticket closed in Q1." in body and "HR" in body
    assert "Accept" not in body and 'data-testid="approved-evidence"' not in body


@pytest.mark.parametrize("overrides, message", [
    ({"control": ""}, "Name the control (or the criterion) the request is about."),
    ({"due_on": "2020-01-01"}, "The due date cannot be in the past."),
    ({"title": ""}, "This field is required."),
    ({"due_on": ""}, "This field is required."),
])
def test_the_raise_form_shows_what_is_wrong(estate, a, client_for, overrides, message):
    response = client_for(estate["auditor_a"]).post(f"/audits/{a.pk}/requests/new/", raise_form(estate, **overrides))
    assert response.status_code == 400 and message in response.content.decode()
    assert not AuditRequest.objects.exists() and not EvidenceRequest.objects.filter(template=None).exists()


def test_a_criterion_without_an_evidence_owner_is_explained(estate, a, client_for):
    response = client_for(estate["auditor_a"]).post(
        f"/audits/{a.pk}/requests/new/", raise_form(estate, control="", criterion=estate["cc61"].pk))
    assert response.status_code == 400 and "has no evidence owner team yet" in response.content.decode()


def test_the_pbc_round_trip(estate, a, personas, security, client_for):
    """Ada asks, HR answers, Security approves, Ada returns it, HR adds, Security approves, Ada accepts."""
    ada, hr = client_for(estate["auditor_a"]), client_for(personas["owner"])
    ada.post(f"/audits/{a.pk}/requests/new/", raise_form(estate))
    audit_request = AuditRequest.objects.get(audit=a)
    url = f"/audits/{a.pk}/requests/1/"

    # HR (the answering team) sees the thread and comments on it, but nothing else of the audit.
    body = html(hr.get(url))
    assert "Upload the evidence on the team" in body and "Evidence requests" in body
    assert f'href="/audits/{a.pk}/coverage/"' not in body
    assert hr.post(url + "comment/", {"body": "Uploading tomorrow."}).status_code == 302
    assert hr.get(f"/audits/{a.pk}/").status_code == 404

    approve(audit_request.evidence_request, personas["owner"], security, pdf("leaver-tickets.pdf"))
    body = html(ada.get(url))
    assert "Ready for the auditor" in body and "leaver-tickets.pdf" in body and "Uploading tomorrow." in body
    answer_file = audit_request.evidence_request.submissions.get().files.get()
    assert f'href="/audits/{a.pk}/files/{answer_file.pk}/download/"' in body
    assert ada.get(f"/audits/{a.pk}/files/{answer_file.pk}/download/").status_code == 200

    response = ada.post(url + "decide/", {"decision": "return", "comment": ""})
    assert response.status_code == 400 and "Say what is missing" in response.content.decode()
    assert ada.post(url + "decide/", {"decision": "return", "comment": "Q1 only, please."}).status_code == 302
    audit_request.refresh_from_db()
    assert audit_request.stage == "with_team"
    body = html(ada.get(url))
    assert "Q1 only, please." in body and "With the team" in body and "leaver-tickets.pdf" not in body
    assert rows(html(ada.get(f"/audits/{a.pk}/requests/?stage=with_team")), "pbc") == ["1"]
    assert rows(html(ada.get(f"/audits/{a.pk}/requests/?stage=ready")), "pbc") == []

    from evidence import services as evidence_services

    evidence = evidence_services.evidence_submit(request=audit_request.evidence_request, actor=personas["owner"],
                                                 files=[pdf("q1-only.pdf")])
    assert rows(html(ada.get(f"/audits/{a.pk}/requests/?stage=in_review")), "pbc") == ["1"]
    evidence_services.evidence_approve(evidence=evidence, reviewer=security)
    assert ada.post(url + "decide/", {"decision": "accept", "comment": "Thanks."}).status_code == 302
    audit_request.refresh_from_db()
    assert audit_request.stage == "accepted" and audit_request.accepted_by == estate["auditor_a"]
    body = html(ada.get(url))
    assert "Accepted by" in body and 'name="decision"' not in body
    assert rows(html(ada.get(f"/audits/{a.pk}/requests/?stage=accepted")), "pbc") == ["1"]


def test_pbc_requests_appear_in_the_teams_evidence_list(estate, a, personas, client_for):
    client_for(estate["auditor_a"]).post(f"/audits/{a.pk}/requests/new/", raise_form(estate))
    body = html(client_for(personas["owner"]).get("/evidence/"))
    assert "PBC-1: Leaver tickets" in body


def test_an_empty_comment_is_refused_on_its_field(estate, a, client_for):
    client = client_for(estate["auditor_a"])
    client.post(f"/audits/{a.pk}/requests/new/", raise_form(estate))
    response = client.post(f"/audits/{a.pk}/requests/1/comment/", {"body": "   "})
    assert response.status_code == 400 and "id_body_errors" in response.content.decode()


def test_pbc_empty_state_and_unknown_stage(estate, a, client_for):
    client = client_for(estate["auditor_a"])
    body = html(client.get(f"/audits/{a.pk}/requests/"))
    assert 'data-testid="requests-empty"' in body and "Raise a request" in body
    body = html(client.get(f"/audits/{a.pk}/requests/?stage=bogus"))
    assert "Some filters were not understood" in body


# --- samples -------------------------------------------------------------------------------

def test_an_auditor_draws_a_sample_that_draws_again_the_same(estate, a, client_for):
    client = client_for(estate["auditor_a"])
    assert 'data-testid="samples-empty"' in html(client.get(f"/audits/{a.pk}/samples/"))
    body = html(client.get(f"/audits/{a.pk}/samples/new/"))
    assert "HR-01 — Leaver access removals" in body and "PRV-01" not in body
    response = client.post(f"/audits/{a.pk}/samples/new/", {
        "population": "template_requests", "template": estate["template"].pk, "size": 1, "seed": "fixed-seed"})
    sample = AuditSample.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/audits/{a.pk}/samples/{sample.pk}/"
    assert sample.population_ids == [estate["q1"].pk, estate["q2"].pk] and sample.seed == "fixed-seed"
    body = html(client.get(response["Location"]))
    assert re.search(r'data-testid="seed">fixed-seed<', body)
    assert re.search(r'data-testid="population-size">2<', body)
    assert "Verified: drawing 1 from the recorded population of 2" in body
    assert rows(body, "item") == [str(i) for i in sample.selected_ids]
    assert f'href="/audits/{a.pk}/evidence/{sample.selected_ids[0]}/"' in body
    assert rows(html(client.get(f"/audits/{a.pk}/samples/")), "sample") == [str(sample.pk)]


def test_a_sample_without_a_seed_gets_one_recorded(estate, a, client_for):
    client_for(estate["auditor_a"]).post(f"/audits/{a.pk}/samples/new/", {
        "population": "control_evidence", "control": estate["hr_control"].pk, "size": 1})
    sample = AuditSample.objects.get()
    assert len(sample.seed) == 16 and sample.selected_ids == [estate["q1_file"].pk]
    body = html(client_for(estate["auditor_a"]).get(sample.get_absolute_url()))
    assert "q1-2026-leavers.pdf" in body and f"/audits/{a.pk}/files/{estate['q1_file'].pk}/download/" in body


def test_a_sample_of_revoked_identities(estate, a, teams, client_for):
    from tests.nhi.factories import make_nhi

    gone = make_nhi(teams["hr"], "retired-key", created_on=dt.date(2025, 1, 1), revoked_on=dt.date(2026, 2, 1),
                    status="revoked")
    client = client_for(estate["auditor_a"])
    client.post(f"/audits/{a.pk}/samples/new/", {"population": "nhis_revoked", "size": 1})
    body = html(client.get(AuditSample.objects.get().get_absolute_url()))
    assert "retired-key" in body and rows(body, "item") == [str(gone.pk)]


@pytest.mark.parametrize("data, message", [
    ({"population": "template_requests", "size": 1}, "Choose the evidence standard"),
    ({"population": "template_requests", "template": "TEMPLATE", "size": 5}, "The population has 2 items"),
    ({"population": "nhis_revoked", "size": 1}, "That population is empty"),
    ({"population": "template_requests", "template": "TEMPLATE", "size": 0}, "greater than or equal to 1"),
    ({"size": 1}, "This field is required."),
])
def test_the_sample_form_shows_what_is_wrong(estate, a, client_for, data, message):
    data = {k: (estate["template"].pk if v == "TEMPLATE" else v) for k, v in data.items()}
    response = client_for(estate["auditor_a"]).post(f"/audits/{a.pk}/samples/new/", data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not AuditSample.objects.exists()


# --- reports -------------------------------------------------------------------------------

def test_generating_a_report_shows_its_progress_then_the_download(estate, a, client_for):
    client = client_for(estate["auditor_a"])
    body = html(client.get(f"/audits/{a.pk}/reports/"))
    assert 'data-testid="reports-empty"' in body and body.count('data-kind="') == 5
    response = client.post(f"/audits/{a.pk}/reports/new/", {"kind": "evidence_index"})
    job = ReportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/audits/{a.pk}/reports/{job.pk}/"
    assert job.requested_by == estate["auditor_a"] and job.kind == "evidence_index"

    body = html(client.get(response["Location"]))
    assert f'hx-get="/audits/{a.pk}/reports/{job.pk}/"' in body and 'hx-trigger="every 1s"' in body
    assert "Waiting for the worker" in body
    ReportJob.objects.filter(pk=job.pk).update(status="running", progress_done=3, progress_total=4)
    partial = html(client.get(response["Location"], HTTP_HX_REQUEST="true"))
    assert partial.lstrip().startswith('<div id="report-progress"') and "<html" not in partial
    assert "75% · 3 of 4" in partial
    assert client.get(f"/audits/{a.pk}/reports/{job.pk}/download/").status_code == 404  # not ready

    job.refresh_from_db()
    job.file.save("index.csv", ContentFile(b"control,period\nHR-01,2026-Q1\n"), save=False)
    job.status, job.size, job.finished_at = "done", 30, timezone.now()
    job.save()
    partial = html(client.get(response["Location"], HTTP_HX_REQUEST="true"))
    assert "hx-get" not in partial and 'data-testid="report-ready"' in partial and "Download" in partial
    download = client.get(f"/audits/{a.pk}/reports/{job.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="fy26-soc-2-type-ii-evidence-index-{job.pk}.csv"'
    assert b"".join(download.streaming_content).startswith(b"control,period")
    assert AuditorAccess.objects.filter(path=f"/audits/{a.pk}/reports/{job.pk}/download/", is_download=True).exists()
    assert rows(html(client.get(f"/audits/{a.pk}/reports/")), "report") == [str(job.pk)]


def test_a_failed_report_says_why(estate, a, client_for):
    job = services.report_request(audit=a, actor=estate["auditor_a"], kind="evidence_package")
    ReportJob.objects.filter(pk=job.pk).update(status="failed", message="The package is over 2 GB.")
    body = html(client_for(estate["auditor_a"]).get(job.get_absolute_url()))
    assert 'data-testid="report-failed"' in body and "The package is over 2 GB." in body and "hx-get" not in body


def test_an_unknown_report_kind_is_refused(estate, a, client_for):
    response = client_for(estate["auditor_a"]).post(f"/audits/{a.pk}/reports/new/", {"kind": "everything"},
                                                    follow=True)
    assert "Choose which report to generate." in response.content.decode()
    assert not ReportJob.objects.exists()


# --- the auditor access log ----------------------------------------------------------------

def test_security_reads_the_auditor_access_log_and_filters_it(estate, a, security, client_for):
    ada, eve = client_for(estate["auditor_a"]), client_for(estate["expired"])
    body = html(client_for(security).get(f"/audits/{a.pk}/access/"))
    assert 'data-testid="access-empty"' in body
    ada.get(f"/audits/{a.pk}/")
    ada.get(f"/audits/{a.pk}/files/{estate['q1_file'].pk}/download/")
    ada.post(f"/audits/{a.pk}/edit/", {"name": "Mine now"})
    eve.get(f"/audits/{a.pk}/")
    client_for(estate["auditor_b"]).get(f"/audits/{estate['audit_b'].pk}/")  # B's: not in A's log

    client = client_for(security)
    body = html(client.get(f"/audits/{a.pk}/access/"))
    assert len(rows(body, "access")) == 4
    assert re.search(r'data-testid="count-refused">2<', body) and re.search(r'data-testid="count-downloads">1<', body)
    assert body.count(">Refused</span>") == 2 and "Download</span>" in body and "bo_auditor" not in body
    assert "<code>POST</code>" in body and f"/audits/{a.pk}/edit/" in body
    body = html(client.get(f"/audits/{a.pk}/access/?user={estate['expired'].pk}"))
    assert len(rows(body, "access")) == 1 and "eve_expired" in body
    body = html(client.get(f"/audits/{a.pk}/access/?refused=true"))
    assert len(rows(body, "access")) == 2
    body = html(client.get(f"/audits/{a.pk}/access/?refused=true&user={estate['auditor_a'].pk}"))
    assert len(rows(body, "access")) == 1
    body = html(client.get(f"/audits/{a.pk}/access/?user=999999"))
    assert "Some filters were not understood" in body and len(rows(body, "access")) == 4


def test_the_access_log_paginates(estate, a, security, client_for):
    AuditorAccess.objects.bulk_create([
        AuditorAccess(user=estate["auditor_a"], audit=a, method="GET", path=f"/audits/{a.pk}/?n={n}", status_code=200)
        for n in range(60)])
    client = client_for(security)
    body = html(client.get(f"/audits/{a.pk}/access/"))
    assert len(rows(body, "access")) == 50 and "Page 1 of 2" in body
    assert len(rows(html(client.get(f"/audits/{a.pk}/access/?page=2")), "access")) == 10


# --- queries stay flat as the data grows ---------------------------------------------------

def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def grow(estate, teams, personas, n: int, start: int) -> None:
    """``n`` more controls under CC6.1, each with a monthly standard, six requests in the
    window (the first approved), and ``n`` auditor page views."""
    security, owner = personas["security"], personas["owner"]
    a = estate["audit_a"]
    for i in range(start, start + n):
        control = ControlFactory(ref=f"BULK-{i:03d}", business_owner=teams["hr"], control_owner=teams["hr"],
                                 evidence_owner=teams["hr"], criteria=[estate["cc61"]])
        template = make_template(teams["hr"], control=control, cadence=Cadence.MONTHLY,
                                 starts_on=dt.date(2025, 1, 1), title=f"Bulk evidence {i}")
        for month in range(1, 7):
            request = make_request(template, due_on=dt.date(2026, month, 20), period_start=dt.date(2026, month, 1))
            if month == 1:
                approve(request, owner, security)
    AuditorAccess.objects.bulk_create([
        AuditorAccess(user=estate["auditor_a"], audit=a, method="GET", path=f"/audits/{a.pk}/?n={k}",
                      status_code=404 if k % 3 else 200, is_download=k % 5 == 0)
        for k in range(start, start + n)])


def test_pages_read_a_constant_number_of_queries(estate, teams, personas, client_for):
    a = estate["audit_a"]
    fieldwork(a, personas["security"])
    security, ada = client_for(personas["security"]), client_for(estate["auditor_a"])
    urls = [
        (security, f"/audits/{a.pk}/coverage/"),
        (ada, f"/audits/{a.pk}/coverage/?gaps=1"),
        (ada, f"/audits/{a.pk}/evidence/"),
        (ada, f"/audits/{a.pk}/evidence/?status=approved&ordering=-period"),
        (security, f"/audits/{a.pk}/access/"),
        (security, f"/audits/{a.pk}/access/?refused=true&user={estate['auditor_a'].pk}"),
        (ada, f"/audits/{a.pk}/"),
        (ada, f"/audits/{a.pk}/scope/"),
    ]
    grow(estate, teams, personas, 3, 0)
    small = {url: count_queries(client, url) for client, url in urls}
    grow(estate, teams, personas, 12, 3)
    large = {url: count_queries(client, url) for client, url in urls}
    assert large == small, (small, large)


def test_a_control_under_several_criteria_has_one_anchor(estate, security, client_for):
    estate["hr_control"].criteria.add(estate["cc72"])
    body = html(client_for(security).get(f"/audits/{estate['audit_a'].pk}/coverage/"))
    assert body.count('id="control-HR-01"') == 1 and body.count('data-control="HR-01"') == 2
