"""Audit fixtures on top of the shared personas (tests/conftest.py).

Two Type II audits over the first half of 2026: **A** covers Security only and is audited by
``auditor`` (Ada); **B** covers Security and Privacy and is audited by ``auditor_b`` (Bo).
``expired_auditor`` (Eve) was on A until yesterday. HR owns HR-01 (CC6.1) with a quarterly
standard: Q4 2025 approved (outside the window), Q1 2026 approved (inside), Q2 2026 open and
overdue (a gap). Legal owns PRV-01 (P4.1, privacy: in B's scope, not A's); its approved 2025
review ended before either window, so no audit covers ``legal_file``.
"""

import datetime as dt

import pytest
from django.utils import timezone

from audits import services
from audits.models import Audit, AuditAuditor
from evidence import services as evidence_services
from evidence.models import Cadence, RequestStatus
from tests.evidence.factories import make_request, make_template, pdf, upload
from tests.factories import ControlFactory, CriterionFactory, Role, UserFactory

WINDOW = (dt.date(2026, 1, 1), dt.date(2026, 6, 30))


def approve(request, submitter, reviewer, *files, note="Export from the HR system"):
    """Submit ``files`` for ``request`` as ``submitter`` and approve them as ``reviewer``."""
    evidence = evidence_services.evidence_submit(request=request, actor=submitter,
                                                 files=list(files) or [pdf()], note=note)
    return evidence_services.evidence_approve(evidence=evidence, reviewer=reviewer)


def make_audit(security, *, name="FY26 SOC 2 Type II", categories=("security",), window=WINDOW, **fields) -> Audit:
    return services.audit_create(actor=security, name=name, firm="Example & Co LLP", type="type2",
                                 period_start=window[0], period_end=window[1], categories=list(categories), **fields)


def assign(audit, security, user, *, days=30) -> AuditAuditor:
    return services.audit_auditor_set(audit=audit, actor=security, user=user,
                                      access_ends_on=timezone.localdate() + dt.timedelta(days=days))


@pytest.fixture
def estate(teams, personas):
    """The audits, their people and the evidence described in the module docstring."""
    security, owner = personas["security"], personas["owner"]
    cc61 = CriterionFactory(code="CC6.1", category="security")
    cc72 = CriterionFactory(code="CC7.2", category="security")
    p41 = CriterionFactory(code="P4.1", category="privacy", series="P4")
    hr = teams["hr"]
    hr_control = ControlFactory(ref="HR-01", business_owner=hr, control_owner=hr, evidence_owner=hr, criteria=[cc61])
    eng_control = ControlFactory(ref="ENG-01", business_owner=teams["engineering"],
                                 control_owner=teams["engineering"], evidence_owner=teams["engineering"],
                                 criteria=[cc72])
    legal_control = ControlFactory(ref="PRV-01", business_owner=teams["legal"], control_owner=teams["legal"],
                                   evidence_owner=teams["legal"], criteria=[p41])
    template = make_template(hr, control=hr_control, cadence=Cadence.QUARTERLY, starts_on=dt.date(2025, 10, 1),
                             title="Leaver access removals", due=14)
    before = make_request(template, due_on=dt.date(2026, 1, 14), period_start=dt.date(2025, 10, 1))
    q1 = make_request(template, due_on=dt.date(2026, 4, 14), period_start=dt.date(2026, 1, 1))
    q2 = make_request(template, due_on=dt.date(2026, 7, 14), period_start=dt.date(2026, 4, 1))
    approve(before, owner, security, pdf("q4-2025-leavers.pdf"))
    q1_evidence = approve(q1, owner, security, pdf("q1-2026-leavers.pdf"))
    legal_template = make_template(teams["legal"], control=legal_control, cadence=Cadence.ANNUAL,
                                   starts_on=dt.date(2025, 1, 1), title="Privacy notice review", due=30)
    legal_request = make_request(legal_template, due_on=dt.date(2026, 1, 30), period_start=dt.date(2025, 1, 1))
    legal_member = UserFactory(username="lena_legal")
    from soc2hub.models import Membership

    Membership.objects.create(user=legal_member, team=teams["legal"])
    approve(legal_request, legal_member, security, upload("privacy-review.txt", b"Reviewed and signed off.\n"))
    audit_a = make_audit(security)
    audit_b = make_audit(security, name="FY26 Privacy audit", categories=("security", "privacy"))
    auditor_b = UserFactory(username="bo_auditor", roles=[Role.AUDITORS])
    expired = UserFactory(username="eve_expired", roles=[Role.AUDITORS])
    assign(audit_a, security, personas["auditor"])
    assign(audit_b, security, auditor_b)
    assign(audit_a, security, expired)
    AuditAuditor.objects.filter(audit=audit_a, user=expired).update(
        access_ends_on=timezone.localdate() - dt.timedelta(days=1))
    q2.refresh_from_db()
    assert q2.status == RequestStatus.OPEN
    return {
        "audit_a": audit_a, "audit_b": audit_b, "auditor_a": personas["auditor"], "auditor_b": auditor_b,
        "expired": expired, "cc61": cc61, "cc72": cc72, "p41": p41, "hr_control": hr_control,
        "eng_control": eng_control, "legal_control": legal_control, "template": template,
        "before": before, "q1": q1, "q2": q2, "q1_file": q1_evidence.files.get(),
        "before_file": before.submissions.get().files.get(), "legal_request": legal_request,
        "legal_file": legal_request.submissions.get().files.get(), "legal_member": legal_member,
    }


@pytest.fixture
def audit_personas(personas, estate):
    """The scoping matrix's people: auditor of A, auditor of B, expired auditor, Security, owner team."""
    return {
        "auditor_a": estate["auditor_a"], "auditor_b": estate["auditor_b"], "expired": estate["expired"],
        "security": personas["security"], "owner": personas["owner"], "anonymous": None,
        "leadership": personas["leadership"], "other_team": personas["other_team"],
    }
