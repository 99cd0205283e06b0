"""Audit writes: engagements, auditors and their access, auditor requests through the evidence
flow, comments and samples. Each refusal leaves nothing behind."""

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audits import services
from audits.models import Audit, AuditAuditor, AuditRequest, AuditSample, AuditStatus, Population
from evidence import services as evidence_services
from evidence.models import EvidenceRequest, RequestStatus
from nhi.models import NonHumanIdentity, NhiStatus
from soc2hub.models import ActivityLog, Notification
from tests.audits.conftest import WINDOW
from tests.evidence.factories import pdf

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def raise_request(estate, actor=None, **fields):
    values = {"title": "Leaver tickets for March", "description": "Every ticket closed in March 2026, with approver.",
              "due_on": TODAY + dt.timedelta(days=14), "control": estate["hr_control"]}
    return services.audit_request_raise(audit=estate["audit_a"], actor=actor or estate["auditor_a"],
                                        **{**values, **fields})


# --- engagements -----------------------------------------------------------------------------

def test_security_is_always_in_scope_and_the_window_follows_the_type(personas):
    audit = services.audit_create(actor=personas["security"], name="Readiness", firm="Firm", type="type1",
                                  as_of=dt.date(2026, 9, 30), categories=["privacy"],
                                  period_start=dt.date(2026, 1, 1))
    assert audit.categories == ["security", "privacy"]
    assert audit.period_start is None
    assert (audit.window_start, audit.window_end) == (dt.date(2025, 9, 30), dt.date(2026, 9, 30))
    assert ActivityLog.objects.filter(verb="audit.created", object_id=str(audit.pk)).exists()


@pytest.mark.parametrize("fields, field", [
    ({"type": "type2", "period_start": dt.date(2026, 6, 1), "period_end": dt.date(2026, 1, 1)}, "period_end"),
    ({"type": "type2", "period_start": dt.date(2026, 6, 1)}, "period_end"),
    ({"type": "type1"}, "as_of"),
    ({"type": "type2", "period_start": dt.date(2020, 1, 1), "period_end": dt.date(2026, 1, 1)}, "period_end"),
    ({"type": "type1", "as_of": dt.date(2026, 1, 1), "categories": ["security", "bogus"]}, "categories"),
    ({"type": "type1", "as_of": dt.date(2026, 1, 1), "name": ""}, "name"),
])
def test_a_malformed_audit_is_refused_with_the_field_named(personas, fields, field):
    with pytest.raises(ValidationError) as excinfo:
        services.audit_create(actor=personas["security"], **{"name": "X", "firm": "F", **fields})
    assert field in excinfo.value.message_dict
    assert not Audit.objects.exists()


@pytest.mark.parametrize("persona", ["owner", "leadership", "auditor", "other_team"])
def test_only_security_creates_audits(personas, persona):
    with pytest.raises(PermissionDenied):
        services.audit_create(actor=personas[persona], name="X", firm="F", type="type1", as_of=TODAY)
    assert not Audit.objects.exists()


def test_status_moves_forward_and_closed_is_final(estate, personas):
    audit, security = estate["audit_a"], personas["security"]
    with pytest.raises(ValidationError):
        services.audit_set_status(audit=audit, actor=security, status=AuditStatus.REPORTING)
    for status in (AuditStatus.FIELDWORK, AuditStatus.REPORTING, AuditStatus.CLOSED):
        services.audit_set_status(audit=audit, actor=security, status=status)
    with pytest.raises(ValidationError):
        services.audit_set_status(audit=audit, actor=security, status=AuditStatus.FIELDWORK)
    with pytest.raises(ValidationError):
        services.audit_update(audit=audit, actor=security, name="Renamed")
    assert ActivityLog.objects.filter(verb="audit.status_changed", object_id=str(audit.pk)).count() == 3


# --- auditors --------------------------------------------------------------------------------

def test_only_people_in_the_auditors_group_are_assigned(estate, personas):
    with pytest.raises(ValidationError) as excinfo:
        services.audit_auditor_set(audit=estate["audit_a"], actor=personas["security"], user=personas["owner"],
                                   access_ends_on=TODAY + dt.timedelta(days=5))
    assert "user" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        services.audit_auditor_set(audit=estate["audit_a"], actor=personas["security"], user=estate["auditor_b"],
                                   access_ends_on=TODAY - dt.timedelta(days=1))
    assert "access_ends_on" in excinfo.value.message_dict
    assert not AuditAuditor.objects.filter(audit=estate["audit_a"], user=estate["auditor_b"]).exists()


def test_ending_access_keeps_the_assignment_and_closes_the_door(estate, personas):
    auditor = estate["auditor_a"]
    services.audit_auditor_end(audit=estate["audit_a"], actor=personas["security"], user=auditor)
    assignment = AuditAuditor.objects.get(audit=estate["audit_a"], user=auditor)
    assert assignment.access_ends_on == TODAY - dt.timedelta(days=1)
    fresh = type(auditor).objects.get(pk=auditor.pk)
    with pytest.raises(PermissionDenied, match="ended"):
        raise_request(estate, actor=fresh)


# --- auditor requests ------------------------------------------------------------------------

def test_a_request_is_routed_to_the_controls_evidence_owner(estate, teams, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        audit_request = raise_request(estate)
    er = audit_request.evidence_request
    assert (audit_request.number, audit_request.reference) == (1, "PBC-1")
    assert er.owner_team == teams["hr"] and er.template is None and er.control == estate["hr_control"]
    assert (er.period_start, er.period_end) == WINDOW and er.status == RequestStatus.OPEN
    assert er.due_on == TODAY + dt.timedelta(days=14)
    assert Notification.objects.filter(kind="audit.request_raised", user__memberships__team=teams["hr"]).exists()
    assert any("PBC-1" in m.subject for m in mail.outbox)
    assert raise_request(estate, title="Second").number == 2


def test_a_request_about_a_criterion_goes_to_the_criterions_evidence_owner(estate, teams):
    estate["cc72"].evidence_owner = teams["engineering"]
    estate["cc72"].save()
    audit_request = raise_request(estate, control=None, criterion=estate["cc72"])
    assert audit_request.evidence_request.owner_team == teams["engineering"]
    assert audit_request.evidence_request.control is None


@pytest.mark.parametrize("fields, field", [
    ({"title": "  "}, "title"),
    ({"description": ""}, "description"),
    ({"control": None}, "control"),
    ({"due_on": TODAY - dt.timedelta(days=1)}, "due_on"),
    ({"due_on": None}, "due_on"),
    ({"due_on": TODAY + dt.timedelta(days=400)}, "due_on"),
])
def test_bad_requests_are_refused_and_nothing_is_opened(estate, fields, field):
    before = EvidenceRequest.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        raise_request(estate, **fields)
    assert field in excinfo.value.message_dict
    assert EvidenceRequest.objects.count() == before and not AuditRequest.objects.exists()


def test_a_control_outside_the_audits_scope_is_refused(estate):
    with pytest.raises(ValidationError, match="PRV-01"):
        raise_request(estate, control=estate["legal_control"])
    assert not AuditRequest.objects.exists()


@pytest.mark.parametrize("who", ["auditor_b", "expired"])
def test_only_the_audits_current_auditors_raise_requests(estate, who):
    with pytest.raises(PermissionDenied):
        raise_request(estate, actor=estate[who])
    assert not AuditRequest.objects.exists()


def test_the_whole_flow_team_answers_security_approves_auditor_accepts(estate, personas):
    audit_request = raise_request(estate)
    assert audit_request.stage == "with_team"
    er = audit_request.evidence_request
    evidence = evidence_services.evidence_submit(request=er, actor=personas["owner"], files=[pdf("march.pdf")])
    audit_request.refresh_from_db()
    assert audit_request.stage == "in_review"
    with pytest.raises(ValidationError, match="no answer approved"):
        services.audit_request_accept(audit_request=audit_request, actor=estate["auditor_a"])
    evidence_services.evidence_approve(evidence=evidence, reviewer=personas["security"])
    audit_request = AuditRequest.objects.get(pk=audit_request.pk)
    assert audit_request.stage == "ready"
    assert Notification.objects.filter(user=estate["auditor_a"], kind="audit.request_ready").exists()
    with pytest.raises(PermissionDenied):
        services.audit_request_accept(audit_request=audit_request, actor=personas["security"])
    services.audit_request_accept(audit_request=audit_request, actor=estate["auditor_a"], comment="Thanks, complete.")
    audit_request.refresh_from_db()
    assert audit_request.stage == "accepted" and audit_request.accepted_by == estate["auditor_a"]
    assert audit_request.comments.get().body == "Thanks, complete."
    with pytest.raises(ValidationError, match="already accepted"):
        services.audit_request_accept(audit_request=audit_request, actor=estate["auditor_a"])


def test_a_returned_request_goes_back_to_the_team_with_the_comment(estate, personas):
    audit_request = raise_request(estate)
    evidence = evidence_services.evidence_submit(request=audit_request.evidence_request, actor=personas["owner"],
                                                 files=[pdf()])
    evidence_services.evidence_approve(evidence=evidence, reviewer=personas["security"])
    with pytest.raises(ValidationError):
        services.audit_request_return(audit_request=audit_request, actor=estate["auditor_a"], comment=" ")
    services.audit_request_return(audit_request=audit_request, actor=estate["auditor_a"],
                                  comment="March is missing two tickets.")
    er = EvidenceRequest.objects.get(pk=audit_request.evidence_request_id)
    assert er.status == RequestStatus.RETURNED
    assert Notification.objects.filter(user=personas["owner"], kind="audit.request_returned").exists()
    # The team answers again, through the same request.
    again = evidence_services.evidence_submit(request=er, actor=personas["owner"], files=[pdf("march-v2.pdf")])
    evidence_services.evidence_approve(evidence=again, reviewer=personas["security"])
    services.audit_request_accept(audit_request=audit_request, actor=estate["auditor_a"])
    # The first approved answer never changed.
    evidence.refresh_from_db()
    assert evidence.status == "approved"


def test_the_team_and_security_comment_others_do_not(estate, personas):
    audit_request = raise_request(estate)
    for who in (estate["auditor_a"], personas["owner"], personas["security"]):
        services.audit_comment_add(audit_request=audit_request, actor=who, body=f"From {who.username}")
    for who in (estate["auditor_b"], estate["expired"], personas["other_team"], personas["leadership"]):
        with pytest.raises(PermissionDenied):
            services.audit_comment_add(audit_request=audit_request, actor=who, body="Let me in")
    with pytest.raises(ValidationError):
        services.audit_comment_add(audit_request=audit_request, actor=personas["owner"], body="x" * 5001)
    assert audit_request.comments.count() == 3


# --- samples ---------------------------------------------------------------------------------

def test_a_sample_is_reproducible_from_its_seed(estate, personas, teams):

    nhis = [NonHumanIdentity.objects.create(name=f"key-{n}", kind="access_key", provider="AWS", external_id=f"k{n}",
                                            owner_team=teams["engineering"]) for n in range(40)]
    for nhi in nhis[:25]:
        nhi.status = NhiStatus.REVOKED
        nhi.save()
    NonHumanIdentity.objects.filter(pk__in=[n.pk for n in nhis[:25]]).update(revoked_on=dt.date(2026, 3, 3))
    sample = services.audit_sample_create(audit=estate["audit_a"], actor=estate["auditor_a"],
                                          population=Population.NHIS_REVOKED, size=5, seed="fy26-nhi")
    assert sample.population_ids == sorted(n.pk for n in nhis[:25])
    assert len(sample.selected_ids) == 5 and set(sample.selected_ids) <= set(sample.population_ids)
    assert services.sample_draw(sample.population_ids, 5, "fy26-nhi") == sample.selected_ids
    again = services.audit_sample_create(audit=estate["audit_a"], actor=estate["auditor_a"],
                                         population=Population.NHIS_REVOKED, size=5, seed="fy26-nhi")
    assert again.selected_ids == sample.selected_ids
    other = services.audit_sample_create(audit=estate["audit_a"], actor=estate["auditor_a"],
                                         population=Population.NHIS_REVOKED, size=5)
    assert len(other.seed) == 16  # a random seed is drawn and recorded when none is given
    assert services.sample_draw(other.population_ids, 5, other.seed) == other.selected_ids


def test_a_template_population_is_its_requests_in_the_window(estate):
    sample = services.audit_sample_create(audit=estate["audit_a"], actor=estate["auditor_a"],
                                          population=Population.TEMPLATE_REQUESTS, template=estate["template"],
                                          size=2, seed="s")
    assert sample.population_ids == sorted([estate["q1"].pk, estate["q2"].pk])  # Q4 2025 ended before the window


@pytest.mark.parametrize("fields, message", [
    ({"population": Population.TEMPLATE_REQUESTS, "size": 5}, "population has 2"),
    ({"population": Population.TEMPLATE_REQUESTS, "size": 0}, "at least one"),
    ({"population": Population.TEMPLATE_REQUESTS, "size": 5000}, "at most"),
    ({"population": "everything", "size": 1}, "Choose a population"),
    ({"population": Population.NHIS_REVOKED, "size": 1}, "empty"),
    ({"population": Population.TEMPLATE_REQUESTS, "size": 1, "template": None}, "standard"),
    ({"population": Population.CONTROL_EVIDENCE, "size": 1, "control": "legal"}, "not in this audit"),
    ({"population": Population.TEMPLATE_REQUESTS, "size": 1, "seed": "x" * 65}, "64"),
])
def test_bad_samples_are_refused(estate, fields, message):
    fields = {"template": estate["template"], **fields}
    if fields.get("control") == "legal":
        fields["control"] = estate["legal_control"]
    with pytest.raises(ValidationError, match=message):
        services.audit_sample_create(audit=estate["audit_a"], actor=estate["auditor_a"], **fields)
    assert not AuditSample.objects.exists()


@pytest.mark.parametrize("who", ["auditor_b", "expired"])
def test_only_the_audits_auditors_and_security_draw_samples(estate, personas, who):
    with pytest.raises(PermissionDenied):
        services.audit_sample_create(audit=estate["audit_a"], actor=estate[who],
                                     population=Population.TEMPLATE_REQUESTS, template=estate["template"], size=1)
    services.audit_sample_create(audit=estate["audit_a"], actor=personas["security"],
                                 population=Population.TEMPLATE_REQUESTS, template=estate["template"], size=1)
    assert AuditSample.objects.count() == 1


def test_a_control_evidence_population_is_its_approved_files_in_the_window(estate):
    sample = services.audit_sample_create(audit=estate["audit_a"], actor=estate["auditor_a"],
                                          population=Population.CONTROL_EVIDENCE, control=estate["hr_control"],
                                          size=1, seed="s")
    assert sample.population_ids == [estate["q1_file"].pk]


def test_nhi_revocation_dates_are_kept(teams, personas):
    from nhi import services as nhi_services

    nhi = NonHumanIdentity.objects.create(name="old-key", kind="access_key", provider="AWS", external_id="k",
                                          owner_team=teams["hr"])
    assert nhi.revoked_on is None
    nhi_services.nhi_revoke(nhi=nhi, actor=personas["security"], reason="Unused")
    nhi.refresh_from_db()
    assert nhi.revoked_on == TODAY


def test_the_draw_is_the_documented_ranking_by_sha256():
    import hashlib

    ids = list(range(1, 101))
    expected = sorted(ids, key=lambda pk: hashlib.sha256(f"fy26:{pk}".encode()).hexdigest())[:7]
    assert services.sample_draw(ids, 7, "fy26") == expected
    assert services.sample_draw(list(reversed(ids)), 7, "fy26") == expected  # the population's order is irrelevant
    assert services.sample_draw(ids, 7, "fy27") != expected


def test_a_request_naming_a_control_and_a_criterion_it_does_not_answer_is_refused(estate):
    with pytest.raises(ValidationError) as excinfo:
        raise_request(estate, criterion=estate["cc72"])
    assert "criterion" in excinfo.value.message_dict
    assert raise_request(estate, criterion=estate["cc61"]).criterion == estate["cc61"]


def test_a_returned_answer_gives_the_team_a_week_at_least(estate, personas):
    audit_request = raise_request(estate, due_on=TODAY + dt.timedelta(days=1))
    evidence = evidence_services.evidence_submit(request=audit_request.evidence_request, actor=personas["owner"],
                                                 files=[pdf()])
    evidence_services.evidence_approve(evidence=evidence, reviewer=personas["security"])
    services.audit_request_return(audit_request=audit_request, actor=estate["auditor_a"], comment="More, please.")
    er = EvidenceRequest.objects.get(pk=audit_request.evidence_request_id)
    assert er.due_on == TODAY + dt.timedelta(days=7)
    entry = ActivityLog.objects.get(verb="evidence.returned_by_auditor")
    assert entry.before["status"] == "approved" and entry.after["due_on"] == er.due_on.isoformat()


def test_asking_again_for_a_report_on_its_way_returns_the_same_job(estate, personas, monkeypatch):
    from audits import tasks

    monkeypatch.setattr(tasks.report_generate, "delay", lambda job_id: None)  # stays queued
    first = services.report_request(audit=estate["audit_a"], actor=estate["auditor_a"], kind="evidence_package")
    again = services.report_request(audit=estate["audit_a"], actor=personas["security"], kind="evidence_package")
    other = services.report_request(audit=estate["audit_a"], actor=personas["security"], kind="evidence_index")
    assert again == first and other != first
