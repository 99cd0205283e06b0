"""Type II coverage: expected periods from each standard's cadence against approved evidence,
across window edges, for monthly, quarterly, semi-annual, annual and one-off standards."""

import datetime as dt

import pytest

from audits.coverage import APPROVED, GAP, IN_PROGRESS, audit_coverage, expected_periods
from audits.models import Audit
from evidence.models import Cadence, RequestStatus
from tests.evidence.factories import make_request, make_template, unsaved_template
from tests.audits.conftest import WINDOW

pytestmark = pytest.mark.django_db


def window(start, end, type="type2"):
    if type == "type1":
        return Audit(type="type1", as_of=end, categories=["security"])
    return Audit(type="type2", period_start=start, period_end=end, categories=["security"])


def labels(template, audit):
    return [p.label for p, _due in expected_periods(template, audit)]


@pytest.mark.parametrize("cadence, start, end, expected", [
    # A period belongs to the window when it ends inside it.
    ("monthly", dt.date(2026, 1, 1), dt.date(2026, 6, 30), ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05",
                                                            "2026-06"]),
    ("monthly", dt.date(2026, 1, 15), dt.date(2026, 6, 14), ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]),
    ("monthly", dt.date(2026, 1, 31), dt.date(2026, 2, 27), ["2026-01"]),
    ("quarterly", dt.date(2025, 12, 1), dt.date(2026, 11, 30), ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]),
    ("quarterly", dt.date(2026, 1, 1), dt.date(2026, 12, 31), ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]),
    ("quarterly", dt.date(2026, 1, 1), dt.date(2026, 3, 30), []),
    ("quarterly", dt.date(2025, 12, 31), dt.date(2026, 3, 31), ["2025-Q4", "2026-Q1"]),
    ("semi_annual", dt.date(2026, 1, 1), dt.date(2026, 12, 31), ["2026-H1", "2026-H2"]),
    ("annual", dt.date(2025, 12, 1), dt.date(2026, 11, 30), ["2025"]),
    ("annual", dt.date(2026, 1, 1), dt.date(2026, 12, 30), []),
    ("annual", dt.date(2025, 1, 1), dt.date(2026, 12, 31), ["2025", "2026"]),
])
def test_expected_periods_end_inside_the_window(cadence, start, end, expected):
    template = unsaved_template(cadence, starts_on=dt.date(2024, 1, 1))
    assert labels(template, window(start, end)) == expected


def test_a_standard_started_inside_the_window_expects_only_its_own_periods():
    template = unsaved_template("monthly", starts_on=dt.date(2026, 4, 10))
    assert labels(template, window(*WINDOW)) == ["2026-04", "2026-05", "2026-06"]


def test_one_off_standard_is_expected_only_when_its_date_is_in_the_window():
    inside = unsaved_template("one_off", starts_on=dt.date(2026, 1, 1), one_off_period_end=dt.date(2026, 3, 5))
    outside = unsaved_template("one_off", starts_on=dt.date(2026, 1, 1), one_off_period_end=dt.date(2026, 8, 5))
    assert labels(inside, window(*WINDOW)) == ["2026-03-05"]
    assert labels(outside, window(*WINDOW)) == []


def test_type_1_expects_the_latest_period_ending_by_the_as_of_date():
    audit = window(None, dt.date(2026, 5, 20), type="type1")
    assert labels(unsaved_template("quarterly", starts_on=dt.date(2025, 1, 1)), audit) == ["2026-Q1"]
    assert labels(unsaved_template("monthly", starts_on=dt.date(2025, 1, 1)), audit) == ["2026-04"]
    assert labels(unsaved_template("annual", starts_on=dt.date(2024, 1, 1)), audit) == ["2025"]


def test_coverage_counts_approved_periods_and_gaps(estate):
    coverage = audit_coverage(estate["audit_a"], today=dt.date(2026, 11, 26))
    by_ref = {row.control.ref: row for row in coverage.controls}
    assert set(by_ref) == {"HR-01", "ENG-01"}  # PRV-01 maps to privacy: not in A's scope
    hr = by_ref["HR-01"]
    [standard] = hr.standards
    assert [(c.label, c.state) for c in standard.cells] == [("2026-Q1", APPROVED), ("2026-Q2", GAP)]
    assert (hr.expected, hr.approved, hr.gaps) == (2, 1, 1)
    assert not by_ref["ENG-01"].has_standard and by_ref["ENG-01"].has_gap
    assert (coverage.expected, coverage.approved, coverage.gaps, coverage.percent) == (2, 1, 1, 50)
    codes = [row.criterion.code for row in coverage.criteria]
    assert codes == sorted(codes, key=lambda c: codes.index(c)) and set(codes) == {"CC6.1", "CC7.2"}


def test_a_period_not_yet_due_is_in_progress_not_a_gap(estate):
    coverage = audit_coverage(estate["audit_a"], today=dt.date(2026, 7, 10))
    [standard] = {row.control.ref: row for row in coverage.controls}["HR-01"].standards
    assert [c.state for c in standard.cells] == [APPROVED, IN_PROGRESS]


def test_a_period_never_requested_is_a_gap_once_its_due_date_passes(estate, teams):
    template = make_template(teams["hr"], control=estate["hr_control"], cadence=Cadence.MONTHLY,
                             starts_on=dt.date(2026, 5, 1), title="Monthly access review", due=10)
    make_request(template, due_on=dt.date(2026, 6, 10), period_start=dt.date(2026, 5, 1),
                 status=RequestStatus.APPROVED)
    coverage = audit_coverage(estate["audit_a"], today=dt.date(2026, 7, 5))
    row = next(s for c in coverage.controls for s in c.standards if s.template == template)
    assert [(c.label, c.state, c.request_id is not None) for c in row.cells] == [
        ("2026-05", APPROVED, True), ("2026-06", IN_PROGRESS, False)]
    coverage = audit_coverage(estate["audit_a"], today=dt.date(2026, 7, 11))
    row = next(s for c in coverage.controls for s in c.standards if s.template == template)
    assert row.cells[1].state == GAP


def test_privacy_audit_covers_the_privacy_control(estate):
    coverage = audit_coverage(estate["audit_b"], today=dt.date(2026, 11, 26))
    refs = {row.control.ref for row in coverage.controls}
    assert refs == {"HR-01", "ENG-01", "PRV-01"}
    prv = next(row for row in coverage.controls if row.control.ref == "PRV-01")
    # The annual 2025 review ended before the window: nothing expected inside it.
    assert prv.expected == 0


def test_coverage_reads_a_constant_number_of_queries(estate, teams, django_assert_max_num_queries):
    from tests.factories import ControlFactory

    for n in range(30):
        control = ControlFactory(ref=f"BULK-{n:02d}", evidence_owner=teams["hr"], criteria=[estate["cc61"]])
        template = make_template(teams["hr"], control=control, cadence=Cadence.MONTHLY,
                                 starts_on=dt.date(2025, 1, 1))
        make_request(template, due_on=dt.date(2026, 2, 14), period_start=dt.date(2026, 1, 1))
    with django_assert_max_num_queries(6):
        coverage = audit_coverage(estate["audit_a"], today=dt.date(2026, 11, 26))
        assert coverage.expected == 2 + 30 * 6


def test_periods_requested_under_an_earlier_cadence_stay_in_the_record(estate, personas):
    """Security turns HR's quarterly standard monthly in May: the approved Q1 still counts, and
    from May the monthly periods are expected."""
    from evidence import services as evidence_services

    template = evidence_services.template_update(template=estate["template"], actor=personas["security"],
                                                 cadence="monthly", starts_on=dt.date(2026, 5, 1))
    coverage = audit_coverage(estate["audit_a"], today=dt.date(2026, 11, 26))
    [standard] = [s for c in coverage.controls for s in c.standards if s.template == template]
    assert [(c.label, c.state) for c in standard.cells] == [
        ("2026-Q1", APPROVED), ("2026-05", GAP), ("2026-Q2", GAP), ("2026-06", GAP)]


def test_submitted_evidence_is_in_review_not_a_gap_even_past_its_due_date(estate, personas):
    from evidence import services as evidence_services
    from tests.evidence.factories import pdf

    evidence_services.evidence_submit(request=estate["q2"], actor=personas["owner"], files=[pdf()])
    coverage = audit_coverage(estate["audit_a"], today=dt.date(2026, 11, 26))
    [standard] = {row.control.ref: row for row in coverage.controls}["HR-01"].standards
    assert [c.state for c in standard.cells] == [APPROVED, IN_PROGRESS]
