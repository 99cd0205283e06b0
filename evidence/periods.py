"""Calendar periods for evidence cadences: months, quarters, halves and years.

Periods are calendar-aligned dates (no times), so "the quarter that ended yesterday" means
the same in every time zone once the day is taken in ``settings.TIME_ZONE``.
"""

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

MONTHS_PER_PERIOD = {"monthly": 1, "quarterly": 3, "semi_annual": 6, "annual": 12}


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    label: str


def _label(cadence: str, start: dt.date) -> str:
    if cadence == "monthly":
        return f"{start:%Y-%m}"
    if cadence == "quarterly":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if cadence == "semi_annual":
        return f"{start.year}-H{(start.month - 1) // 6 + 1}"
    return str(start.year)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_containing(cadence: str, day: dt.date) -> Period:
    """The calendar period of ``cadence`` that contains ``day``."""
    size = MONTHS_PER_PERIOD[cadence]
    first_month = (day.month - 1) // size * size + 1
    start = dt.date(day.year, first_month, 1)
    last = _add_months(start, size - 1)
    end = dt.date(last.year, last.month, calendar.monthrange(last.year, last.month)[1])
    return Period(start, end, _label(cadence, start))


def next_period(cadence: str, period: Period) -> Period:
    return period_containing(cadence, period.end + dt.timedelta(days=1))


def periods_from(cadence: str, day: dt.date) -> Iterator[Period]:
    """The period containing ``day`` and every one after it (an endless iterator)."""
    period = period_containing(cadence, day)
    while True:
        yield period
        period = next_period(cadence, period)


def one_off_period(day: dt.date) -> Period:
    return Period(day, day, day.isoformat())
