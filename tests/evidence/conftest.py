"""Evidence fixtures on top of the shared personas (tests/conftest.py).

HR owns the evidence in most tests: ``owner`` (Harriet) is a member, ``hr_lead`` (Hal) leads
the team, ``security`` (Sam) reviews, ``other_team`` (Olivia) is in Legal and sees nothing of HR's.
"""

import datetime as dt

import pytest
from django.utils import timezone

from tests.evidence.factories import make_request, make_template
from tests.factories import Role, member_of


@pytest.fixture
def hr_lead(teams, personas):
    lead = member_of(teams["hr"], username="hal_hr_lead")
    teams["hr"].lead = lead
    teams["hr"].save(update_fields=["lead"])
    return lead


@pytest.fixture
def security_in_hr(teams, personas):
    """Someone in Security who is also a member of HR: submits HR's evidence, and reviews other
    teams' evidence but never HR's (segregation of duties)."""
    return member_of(teams["hr"], username="sasha_security_hr", roles=[Role.SECURITY])


@pytest.fixture
def hr_template(teams, personas):
    return make_template(teams["hr"], title="Termination tickets", cadence="quarterly",
                         starts_on=dt.date(2026, 1, 1), opens=0, due=14)


@pytest.fixture
def hr_request(hr_template):
    """HR's open request, due in ten days (dates are relative to today, as pages show them)."""
    return make_request(hr_template, due_on=timezone.localdate() + dt.timedelta(days=10))
