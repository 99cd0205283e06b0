"""Three-way ownership: the unassigned and security-only flags in SQL, filtering by them, and
changing a criterion's owners through the service."""

import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError

from controls import services
from controls.filtersets import CriterionFilterSet
from controls.models import Control, Criterion
from soc2hub.models import ActivityLog
from tests.factories import ControlFactory, CriterionFactory, TeamFactory

# (business, control, evidence) -> (is_unassigned, is_security_only); "appsec" is a second
# team whose function is security, "hr" is not.
FLAG_CASES = {
    "all unassigned": ((None, None, None), (True, False)),
    "all security": (("security", "security", "security"), (False, True)),
    "security and one missing": (("security", "security", None), (True, True)),
    "security and two missing": ((None, "security", None), (True, True)),
    "two security-function teams": (("security", "appsec", "security"), (False, True)),
    "security with hr": (("security", "hr", "security"), (False, False)),
    "all hr": (("hr", "hr", "hr"), (False, False)),
    "hr and missing": (("hr", None, None), (True, False)),
}


@pytest.fixture
def owner_teams(teams):
    return {**teams, "appsec": TeamFactory(name="AppSec", slug="appsec", function="security")}


def make_owned(factory, owner_teams, owners, **kwargs):
    roles = dict(zip(("business_owner", "control_owner", "evidence_owner"), owners))
    return factory(**kwargs, **{role: owner_teams[slug] if slug else None for role, slug in roles.items()})


@pytest.mark.parametrize("case", FLAG_CASES.keys())
def test_criterion_flags_in_sql(owner_teams, case):
    owners, (unassigned, security_only) = FLAG_CASES[case]
    make_owned(CriterionFactory, owner_teams, owners, code="CC6.1")
    make_owned(CriterionFactory, owner_teams, ("hr", "legal", "finance"), code="CC6.2")  # a neutral row

    qs = Criterion.objects.with_ownership_flags()
    row = qs.get(code="CC6.1")
    assert (row.is_unassigned, row.is_security_only) == (unassigned, security_only)
    # Filterable in SQL, not only readable.
    assert set(qs.filter(is_unassigned=True).values_list("code", flat=True)) == ({"CC6.1"} if unassigned else set())
    assert set(qs.filter(is_security_only=True).values_list("code", flat=True)) == (
        {"CC6.1"} if security_only else set()
    )


@pytest.mark.parametrize("case", FLAG_CASES.keys())
def test_control_flags_in_sql(owner_teams, case):
    owners, expected = FLAG_CASES[case]
    control = make_owned(ControlFactory, owner_teams, owners)
    row = Control.objects.with_ownership_flags().get(pk=control.pk)
    assert (row.is_unassigned, row.is_security_only) == expected


@pytest.fixture
def owned_criteria(owner_teams):
    """A small catalog slice with every kind of ownership."""
    rows = {
        "CC6.1": ("security", "security", "security"),  # security-only
        "CC6.2": ("hr", "hr", "engineering"),
        "CC6.3": ("security", None, "security"),  # both flags
        "CC6.4": (None, None, None),  # unassigned only
        "A1.1": ("engineering", "hr", None),  # unassigned, availability
        "A1.2": ("engineering", "engineering", "engineering"),
    }
    for code, owners in rows.items():
        series = code.split(".")[0]
        make_owned(
            CriterionFactory, owner_teams, owners, code=code, series=series,
            category="availability" if series == "A1" else "security",
        )
    return rows


def filtered(data) -> set[str]:
    fs = CriterionFilterSet(data, queryset=Criterion.objects.with_ownership_flags())
    assert fs.is_valid(), fs.errors
    return set(fs.qs.values_list("code", flat=True))


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"flag": "unassigned"}, {"CC6.3", "CC6.4", "A1.1"}),
        ({"flag": "security_only"}, {"CC6.1", "CC6.3"}),
        ({"team": "hr"}, {"CC6.2", "A1.1"}),
        ({"team": "security"}, {"CC6.1", "CC6.3"}),
        ({"team": "appsec"}, set()),
        ({"category": "availability"}, {"A1.1", "A1.2"}),
        ({"category": "availability", "flag": "unassigned"}, {"A1.1"}),
        ({"team": "hr", "flag": "unassigned"}, {"A1.1"}),
        ({"team": "engineering", "category": "security"}, {"CC6.2"}),
        ({}, {"CC6.1", "CC6.2", "CC6.3", "CC6.4", "A1.1", "A1.2"}),
    ],
)
def test_criterion_filterset(owned_criteria, data, expected):
    assert filtered(data) == expected


@pytest.mark.parametrize("data", [{"team": "no-such-team"}, {"flag": "bogus"}, {"category": "governance"}])
def test_criterion_filterset_rejects_unknown_values(owned_criteria, data):
    fs = CriterionFilterSet(data, queryset=Criterion.objects.with_ownership_flags())
    assert not fs.is_valid()
    assert set(fs.errors) == set(data)


def matrix_codes(response) -> set[str]:
    assert response.status_code == 200
    return set(re.findall(r'<tr id="criterion-[^"]*" data-code="([^"]+)"', response.content.decode()))


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?flag=security_only", {"CC6.1", "CC6.3"}),
        ("?flag=unassigned&category=availability", {"A1.1"}),
        ("?team=hr", {"CC6.2", "A1.1"}),
        ("?category=security&team=security", {"CC6.1", "CC6.3"}),
        ("", {"CC6.1", "CC6.2", "CC6.3", "CC6.4", "A1.1", "A1.2"}),
    ],
)
def test_matrix_page_filters(owned_criteria, personas, client_for, query, expected):
    assert matrix_codes(client_for(personas["leadership"]).get(f"/matrix/{query}")) == expected


def test_matrix_page_with_unknown_team_warns_and_shows_everything(owned_criteria, personas, client_for):
    response = client_for(personas["owner"]).get("/matrix/?team=no-such-team")
    assert "Some filters were not understood" in response.content.decode()
    assert len(matrix_codes(response)) == 6


# --- criterion_set_owners ------------------------------------------------------------------


@pytest.fixture
def cc61(catalog, teams):
    Criterion.objects.filter(code="CC6.1").update(
        business_owner=teams["security"], control_owner=teams["security"], evidence_owner=None
    )
    return Criterion.objects.get(code="CC6.1")


def owners_of(code):
    c = Criterion.objects.select_related("business_owner", "control_owner", "evidence_owner").get(code=code)
    return tuple(t.slug if t else None for t in (c.business_owner, c.control_owner, c.evidence_owner))


def test_set_owners_logs_one_entry_with_before_and_after_slugs(cc61, teams, personas):
    security = personas["security"]
    changed = services.criterion_set_owners(
        criterion=cc61, actor=security, owners={"control_owner": teams["hr"], "evidence_owner": teams["hr"]}
    )
    assert changed is True
    assert owners_of("CC6.1") == ("security", "hr", "hr")
    entry = ActivityLog.objects.get(verb="owners.changed")
    assert entry.verb == "owners.changed"
    assert entry.actor == security
    assert entry.content_type == ContentType.objects.get_for_model(Criterion)
    assert entry.object_id == str(cc61.pk)
    assert entry.before == {"control_owner": "security", "evidence_owner": None}
    assert entry.after == {"control_owner": "hr", "evidence_owner": "hr"}
    flags = Criterion.objects.with_ownership_flags().get(code="CC6.1")
    assert (flags.is_unassigned, flags.is_security_only) == (False, False)


def test_set_owners_to_unassigned(cc61, personas):
    services.criterion_set_owners(criterion=cc61, actor=personas["security"], owners={"business_owner": None})
    assert owners_of("CC6.1") == (None, "security", None)
    entry = ActivityLog.objects.get(verb="owners.changed")
    assert (entry.before, entry.after) == ({"business_owner": "security"}, {"business_owner": None})


def test_set_owners_without_a_change_logs_nothing(cc61, teams, personas):
    changed = services.criterion_set_owners(
        criterion=cc61, actor=personas["security"],
        owners={"business_owner": teams["security"], "evidence_owner": None},
    )
    assert changed is False
    assert not ActivityLog.objects.exclude(verb="catalog.loaded").exists()


@pytest.mark.parametrize("persona", ["owner", "other_team", "leadership", "auditor"])
def test_set_owners_refused_to_non_security(cc61, teams, personas, persona):
    with pytest.raises(PermissionDenied):
        services.criterion_set_owners(
            criterion=cc61, actor=personas[persona], owners={"control_owner": teams["hr"]}
        )
    assert owners_of("CC6.1") == ("security", "security", None)
    assert not ActivityLog.objects.exclude(verb="catalog.loaded").exists()


def test_set_owners_refused_to_deactivated_security(cc61, teams, personas):
    security = personas["security"]
    security.is_active = False
    security.save()
    with pytest.raises(PermissionDenied):
        services.criterion_set_owners(criterion=cc61, actor=security, owners={"control_owner": teams["hr"]})
    assert owners_of("CC6.1") == ("security", "security", None)


def test_set_owners_rejects_unknown_role(cc61, teams, personas):
    with pytest.raises(ValidationError) as excinfo:
        services.criterion_set_owners(criterion=cc61, actor=personas["security"], owners={"auditor": teams["hr"]})
    assert "auditor" in excinfo.value.message_dict
    assert owners_of("CC6.1") == ("security", "security", None)
    assert not ActivityLog.objects.exclude(verb="catalog.loaded").exists()
