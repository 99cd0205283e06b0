"""Period arithmetic: which calendar period a day falls in, what comes next, which periods a
template asks for and when, and which day "today" is in the configured time zone."""

import datetime as dt
from itertools import pairwise
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from evidence import services
from evidence.models import EvidenceRequest
from evidence.periods import Period, next_period, one_off_period, period_containing, periods_from
from tests.evidence.factories import make_template, unsaved_template

D = dt.date
CADENCES = ["monthly", "quarterly", "semi_annual", "annual"]


# --- the period containing a day ---------------------------------------------------------------

@pytest.mark.parametrize("cadence, day, expected", [
    # months: 31, 28, 29 (leap year) and 30 days
    ("monthly", D(2026, 1, 1), Period(D(2026, 1, 1), D(2026, 1, 31), "2026-01")),
    ("monthly", D(2026, 1, 31), Period(D(2026, 1, 1), D(2026, 1, 31), "2026-01")),
    ("monthly", D(2026, 2, 28), Period(D(2026, 2, 1), D(2026, 2, 28), "2026-02")),
    ("monthly", D(2028, 2, 29), Period(D(2028, 2, 1), D(2028, 2, 29), "2028-02")),
    ("monthly", D(2028, 2, 1), Period(D(2028, 2, 1), D(2028, 2, 29), "2028-02")),
    ("monthly", D(2026, 3, 15), Period(D(2026, 3, 1), D(2026, 3, 31), "2026-03")),
    ("monthly", D(2026, 4, 30), Period(D(2026, 4, 1), D(2026, 4, 30), "2026-04")),
    ("monthly", D(2026, 12, 31), Period(D(2026, 12, 1), D(2026, 12, 31), "2026-12")),
    # quarters: both sides of every boundary
    ("quarterly", D(2026, 1, 1), Period(D(2026, 1, 1), D(2026, 3, 31), "2026-Q1")),
    ("quarterly", D(2026, 2, 28), Period(D(2026, 1, 1), D(2026, 3, 31), "2026-Q1")),
    ("quarterly", D(2026, 3, 31), Period(D(2026, 1, 1), D(2026, 3, 31), "2026-Q1")),
    ("quarterly", D(2026, 4, 1), Period(D(2026, 4, 1), D(2026, 6, 30), "2026-Q2")),
    ("quarterly", D(2026, 6, 30), Period(D(2026, 4, 1), D(2026, 6, 30), "2026-Q2")),
    ("quarterly", D(2026, 7, 1), Period(D(2026, 7, 1), D(2026, 9, 30), "2026-Q3")),
    ("quarterly", D(2026, 9, 30), Period(D(2026, 7, 1), D(2026, 9, 30), "2026-Q3")),
    ("quarterly", D(2026, 10, 1), Period(D(2026, 10, 1), D(2026, 12, 31), "2026-Q4")),
    ("quarterly", D(2026, 12, 31), Period(D(2026, 10, 1), D(2026, 12, 31), "2026-Q4")),
    ("quarterly", D(2028, 2, 29), Period(D(2028, 1, 1), D(2028, 3, 31), "2028-Q1")),
    # halves
    ("semi_annual", D(2026, 1, 1), Period(D(2026, 1, 1), D(2026, 6, 30), "2026-H1")),
    ("semi_annual", D(2026, 6, 30), Period(D(2026, 1, 1), D(2026, 6, 30), "2026-H1")),
    ("semi_annual", D(2026, 7, 1), Period(D(2026, 7, 1), D(2026, 12, 31), "2026-H2")),
    ("semi_annual", D(2026, 12, 31), Period(D(2026, 7, 1), D(2026, 12, 31), "2026-H2")),
    # years
    ("annual", D(2026, 1, 1), Period(D(2026, 1, 1), D(2026, 12, 31), "2026")),
    ("annual", D(2026, 12, 31), Period(D(2026, 1, 1), D(2026, 12, 31), "2026")),
    ("annual", D(2028, 2, 29), Period(D(2028, 1, 1), D(2028, 12, 31), "2028")),
])
def test_period_containing(cadence, day, expected):
    assert period_containing(cadence, day) == expected


@pytest.mark.parametrize("cadence, day, expected", [
    ("monthly", D(2026, 1, 20), Period(D(2026, 2, 1), D(2026, 2, 28), "2026-02")),
    ("monthly", D(2028, 1, 20), Period(D(2028, 2, 1), D(2028, 2, 29), "2028-02")),
    ("monthly", D(2026, 2, 28), Period(D(2026, 3, 1), D(2026, 3, 31), "2026-03")),
    ("monthly", D(2026, 12, 31), Period(D(2027, 1, 1), D(2027, 1, 31), "2027-01")),
    ("quarterly", D(2026, 3, 31), Period(D(2026, 4, 1), D(2026, 6, 30), "2026-Q2")),
    ("quarterly", D(2026, 11, 26), Period(D(2027, 1, 1), D(2027, 3, 31), "2027-Q1")),
    ("semi_annual", D(2026, 3, 1), Period(D(2026, 7, 1), D(2026, 12, 31), "2026-H2")),
    ("semi_annual", D(2026, 7, 1), Period(D(2027, 1, 1), D(2027, 6, 30), "2027-H1")),
    ("annual", D(2026, 6, 1), Period(D(2027, 1, 1), D(2027, 12, 31), "2027")),
])
def test_next_period_rolls_over_months_and_years(cadence, day, expected):
    assert next_period(cadence, period_containing(cadence, day)) == expected


@pytest.mark.parametrize("cadence", CADENCES)
def test_every_day_of_two_years_falls_in_exactly_one_period_and_periods_tile(cadence):
    """2027-2028 (2028 is a leap year): periods start on the 1st, end on the month's last day,
    contain the day, and each next period starts the day after the previous ends."""
    day = D(2027, 1, 1)
    while day <= D(2028, 12, 31):
        period = period_containing(cadence, day)
        assert period.start <= day <= period.end
        assert period.start.day == 1
        assert (period.end + dt.timedelta(days=1)).day == 1
        assert next_period(cadence, period).start == period.end + dt.timedelta(days=1)
        day += dt.timedelta(days=1)


@pytest.mark.parametrize("cadence, labels", [
    ("monthly", ["2026-11", "2026-12", "2027-01", "2027-02", "2027-03"]),
    ("quarterly", ["2026-Q4", "2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"]),
    ("semi_annual", ["2026-H2", "2027-H1", "2027-H2", "2028-H1", "2028-H2"]),
    ("annual", ["2026", "2027", "2028", "2029", "2030"]),
])
def test_periods_from_starts_with_the_period_containing_the_day_and_never_skips(cadence, labels):
    periods = periods_from(cadence, D(2026, 11, 26))
    first_five = [next(periods) for _ in range(5)]
    assert [p.label for p in first_five] == labels
    for before, after in pairwise(first_five):
        assert after.start == before.end + dt.timedelta(days=1)


def test_one_off_period_is_the_single_day():
    assert one_off_period(D(2026, 6, 30)) == Period(D(2026, 6, 30), D(2026, 6, 30), "2026-06-30")


def test_unknown_cadence_is_refused():
    with pytest.raises(KeyError):
        period_containing("fortnightly", D(2026, 1, 1))


# --- which periods a template asks for, and when -----------------------------------------------

def _summary(rows):
    return [(period.label, opens_on, due_on) for period, opens_on, due_on in rows]


@pytest.mark.parametrize("opens, until, expected", [
    # opens on the day the quarter ends
    (0, D(2026, 3, 30), []),
    (0, D(2026, 3, 31), [("2026-Q1", D(2026, 3, 31), D(2026, 4, 14))]),
    # opens five days before the quarter ends
    (-5, D(2026, 3, 25), []),
    (-5, D(2026, 3, 26), [("2026-Q1", D(2026, 3, 26), D(2026, 4, 14))]),
    # opens three days after it ends
    (3, D(2026, 4, 2), []),
    (3, D(2026, 4, 3), [("2026-Q1", D(2026, 4, 3), D(2026, 4, 14))]),
    (3, D(2026, 10, 3), [("2026-Q1", D(2026, 4, 3), D(2026, 4, 14)), ("2026-Q2", D(2026, 7, 3), D(2026, 7, 14)),
                         ("2026-Q3", D(2026, 10, 3), D(2026, 10, 14))]),
])
def test_template_periods_open_relative_to_the_period_end(opens, until, expected):
    template = unsaved_template("quarterly", starts_on=D(2026, 1, 1), opens=opens, due=14)
    assert _summary(services.template_periods(template, until=until)) == expected


@pytest.mark.parametrize("starts_on, first_label", [
    (D(2026, 1, 1), "2026-Q1"),
    (D(2026, 2, 15), "2026-Q1"),  # mid-quarter: Q1 ends after the start, so it is asked for
    (D(2026, 3, 31), "2026-Q1"),  # the last day of Q1 still belongs to Q1
    (D(2026, 4, 1), "2026-Q2"),   # Q1 ended before the start: never asked for
])
def test_template_periods_start_with_the_first_period_ending_on_or_after_starts_on(starts_on, first_label):
    template = unsaved_template("quarterly", starts_on=starts_on)
    rows = services.template_periods(template, until=D(2026, 12, 31))
    assert rows[0][0].label == first_label
    assert all(period.end >= starts_on for period, _, _ in rows)
    assert [p.label for p, _, _ in rows][-1] == "2026-Q4"


def test_template_periods_monthly_across_a_leap_february():
    template = unsaved_template("monthly", starts_on=D(2028, 1, 10), opens=0, due=5)
    rows = services.template_periods(template, until=D(2028, 4, 30))
    assert _summary(rows) == [
        ("2028-01", D(2028, 1, 31), D(2028, 2, 5)),
        ("2028-02", D(2028, 2, 29), D(2028, 3, 5)),
        ("2028-03", D(2028, 3, 31), D(2028, 4, 5)),
        ("2028-04", D(2028, 4, 30), D(2028, 5, 5)),
    ]


@pytest.mark.parametrize("cadence, count, last", [
    ("semi_annual", 2, "2026-H2"),
    ("annual", 1, "2026"),
])
def test_template_periods_halves_and_years(cadence, count, last):
    template = unsaved_template(cadence, starts_on=D(2026, 1, 1), opens=0, due=30)
    rows = services.template_periods(template, until=D(2026, 12, 31))
    assert len(rows) == count
    assert rows[-1][0].label == last
    assert rows[-1][2] == D(2027, 1, 30)


def test_one_off_template_asks_once_on_its_date():
    template = unsaved_template("one_off", one_off_period_end=D(2026, 6, 30), opens=0, due=10)
    assert services.template_periods(template, until=D(2026, 6, 29)) == []
    expected = [("2026-06-30", D(2026, 6, 30), D(2026, 7, 10))]
    assert _summary(services.template_periods(template, until=D(2026, 6, 30))) == expected
    assert _summary(services.template_periods(template, until=D(2030, 1, 1))) == expected


def test_one_off_template_can_open_before_its_date():
    template = unsaved_template("one_off", one_off_period_end=D(2026, 6, 30), opens=-14, due=0)
    assert _summary(services.template_periods(template, until=D(2026, 6, 16))) == [
        ("2026-06-30", D(2026, 6, 16), D(2026, 6, 30))
    ]


# --- the year ahead ----------------------------------------------------------------------------

def test_year_ahead_lists_what_opens_in_the_next_twelve_months():
    template = unsaved_template("quarterly", starts_on=D(2026, 1, 1), opens=0, due=14)
    rows = services.template_year_ahead(template, today=D(2026, 11, 26))
    assert _summary(rows) == [
        ("2026-Q4", D(2026, 12, 31), D(2027, 1, 14)),
        ("2027-Q1", D(2027, 3, 31), D(2027, 4, 14)),
        ("2027-Q2", D(2027, 6, 30), D(2027, 7, 14)),
        ("2027-Q3", D(2027, 9, 30), D(2027, 10, 14)),
    ]


def test_year_ahead_monthly_is_twelve_requests():
    template = unsaved_template("monthly", starts_on=D(2025, 1, 1), opens=0, due=14)
    rows = services.template_year_ahead(template, today=D(2026, 11, 26))
    labels = [p.label for p, _, _ in rows]
    assert labels == [f"2026-{m:02d}" for m in (11, 12)] + [f"2027-{m:02d}" for m in range(1, 11)]


def test_year_ahead_includes_a_request_opening_today_but_not_one_already_open():
    template = unsaved_template("quarterly", starts_on=D(2025, 1, 1), opens=0, due=14)
    assert services.template_year_ahead(template, today=D(2026, 9, 30))[0][0].label == "2026-Q3"
    assert services.template_year_ahead(template, today=D(2026, 10, 1))[0][0].label == "2026-Q4"


def test_year_ahead_of_a_template_that_starts_later_begins_there():
    template = unsaved_template("quarterly", starts_on=D(2027, 5, 1), opens=0, due=14)
    rows = services.template_year_ahead(template, today=D(2026, 11, 26))
    assert [p.label for p, _, _ in rows] == ["2027-Q2", "2027-Q3"]


def test_year_ahead_of_one_off():
    template = unsaved_template("one_off", one_off_period_end=D(2027, 2, 1), opens=0, due=7)
    assert [p.label for p, _, _ in services.template_year_ahead(template, today=D(2026, 11, 26))] == ["2027-02-01"]
    assert services.template_year_ahead(template, today=D(2027, 2, 2)) == []


# --- the configured time zone ------------------------------------------------------------------

# 12:00 UTC on 31 March 2026: already 1 April (01:00) in Auckland, still 31 March (05:00) in
# Los Angeles. Q1 ends on 31 March and the request opens the day after.
BETWEEN_DATES = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)
BOTH_ON_1_APRIL = dt.datetime(2026, 4, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("zone, instant, local_day, opened", [
    ("Pacific/Auckland", BETWEEN_DATES, D(2026, 4, 1), ["2026-Q1"]),
    ("America/Los_Angeles", BETWEEN_DATES, D(2026, 3, 31), []),
    ("America/Los_Angeles", BOTH_ON_1_APRIL, D(2026, 4, 1), ["2026-Q1"]),
])
def test_daily_jobs_take_today_in_the_configured_time_zone(settings, teams, zone, instant, local_day, opened):
    settings.TIME_ZONE = zone
    make_template(teams["hr"], cadence="quarterly", starts_on=D(2026, 1, 1), opens=1, due=14)
    with mock.patch("django.utils.timezone.now", return_value=instant):
        assert timezone.localdate() == local_day
        call_command("run_daily_jobs", "--only", "evidence.open_requests")
    requests = list(EvidenceRequest.objects.all())
    assert [r.period_label for r in requests] == opened
    for request in requests:
        assert (request.opens_on, request.due_on) == (D(2026, 4, 1), D(2026, 4, 14))
