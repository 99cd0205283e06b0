"""A standard whose reviewing group is all in the team that provides the evidence has nobody
who may approve it (segregation of duties): its page says so."""

import datetime as dt

import pytest

from tests.evidence.factories import make_template
from tests.factories import Role, member_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def security_template(teams, personas):
    """Security's own evidence, reviewed by the Security group (the default)."""
    return make_template(teams["security"], title="Incident drills", cadence="quarterly",
                         starts_on=dt.date(2026, 1, 1), opens=0, due=14)


def test_a_standard_only_its_own_team_could_review_says_so(security_template, personas, client_for):
    html = client_for(personas["security"]).get(f"/evidence/templates/{security_template.pk}/").content.decode()
    assert 'data-testid="no-independent-reviewer"' in html
    assert "Everyone in Security is in Security" in html


def test_one_reviewer_outside_the_team_is_enough(security_template, teams, personas, client_for):
    member_of(teams["legal"], username="lee_legal_reviewer", roles=[Role.SECURITY])
    html = client_for(personas["security"]).get(f"/evidence/templates/{security_template.pk}/").content.decode()
    assert "no-independent-reviewer" not in html


def test_a_deactivated_outside_reviewer_does_not_count(security_template, teams, personas, client_for):
    reviewer = member_of(teams["legal"], username="lee_legal_reviewer", roles=[Role.SECURITY])
    reviewer.is_active = False
    reviewer.save(update_fields=["is_active"])
    html = client_for(personas["security"]).get(f"/evidence/templates/{security_template.pk}/").content.decode()
    assert "no-independent-reviewer" in html


def test_another_teams_standard_reviewed_by_security_is_fine(hr_template, personas, client_for):
    html = client_for(personas["security"]).get(f"/evidence/templates/{hr_template.pk}/").content.decode()
    assert "no-independent-reviewer" not in html
