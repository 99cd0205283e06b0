"""Exception fixtures on top of the shared personas (tests/conftest.py).

HR requests most exceptions here: ``owner`` (Harriet) is in HR, ``security`` (Sam) reviews,
``leadership`` (Lee) signs every type, ``finance`` (Fran, in the Finance team) also signs access
exceptions, ``other_team`` (Olivia) is in Legal and sees nothing of HR's, ``auditor`` (Ada) sees
exceptions only through an audit (a later issue), so nothing here.
"""

import pytest

from tests.factories import ControlFactory, CriterionFactory, member_of


@pytest.fixture
def people(teams, personas):
    """The personas plus ``finance``, a member of the Finance team (a signer of access exceptions)."""
    return {**personas, "finance": member_of(teams["finance"], username="fran_finance")}


def _owned_by(team, ref, name):
    return ControlFactory(ref=ref, name=name, business_owner=team, control_owner=team, evidence_owner=team)


@pytest.fixture
def controls(teams):
    """One control per team: HR-01 (HR), ENG-01 (Engineering), LEG-01 (Legal)."""
    return {
        "hr": _owned_by(teams["hr"], "HR-01", "Leaver access removed within a day"),
        "eng": _owned_by(teams["engineering"], "ENG-01", "Production access limited to employees"),
        "legal": _owned_by(teams["legal"], "LEG-01", "Contracts reviewed before signature"),
    }


@pytest.fixture
def criterion(db):
    return CriterionFactory(code="CC6.1", title="Logical access security")
