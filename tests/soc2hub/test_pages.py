"""What the pages show: the matrix and its counts, a team's page, the controls list, the control form."""

import re

import pytest

from controls.models import Control, Criterion
from soc2hub.models import ActivityLog
from tests.factories import ControlFactory


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def row(page: str, code: str) -> str:
    """The matrix row of one criterion."""
    match = re.search(rf'<tr id="criterion-[^"]*" data-code="{re.escape(code)}".*?</tr>', page, re.DOTALL)
    assert match, f"no row for {code}"
    return match.group(0)


def badges(fragment: str) -> list[str]:
    """The flag badges shown in a piece of a page."""
    return re.findall(r'<span class="badge flag-(?:unassigned|security)"[^>]*>([^<]+)</span>', fragment)


def stat(page: str, testid: str) -> int:
    match = re.search(rf'data-testid="{testid}">\s*(\d+)\s*<', page)
    assert match, testid
    return int(match.group(1))


@pytest.fixture
def matrix_data(catalog, teams):
    """Everything owned by HR/Engineering/Leadership except: CC7.2 security-only, CC6.5 missing its
    evidence owner, CC6.6 security with one owner missing (both flags)."""
    security, hr = teams["security"], teams["hr"]
    Criterion.objects.update(business_owner=teams["leadership"], control_owner=teams["engineering"],
                             evidence_owner=teams["engineering"])
    Criterion.objects.filter(code="CC1.4").update(business_owner=hr, control_owner=hr, evidence_owner=hr)
    Criterion.objects.filter(code="CC7.2").update(business_owner=security, control_owner=security,
                                                  evidence_owner=security)
    Criterion.objects.filter(code="CC6.5").update(evidence_owner=None)
    Criterion.objects.filter(code="CC6.6").update(business_owner=security, control_owner=security,
                                                  evidence_owner=None)


# --- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["security", "leadership", "owner"])
def test_matrix_counts_and_flags(matrix_data, personas, client_for, persona):
    page = html(client_for(personas[persona]).get("/matrix/"))
    assert stat(page, "count-total") == 61
    assert stat(page, "count-unassigned") == 2
    assert stat(page, "count-security-only") == 2
    assert len(re.findall(r'<tr id="criterion-', page)) == 61

    assert badges(row(page, "CC7.2")) == ["Security-only"]
    assert badges(row(page, "CC6.5")) == ["Unassigned"]
    assert badges(row(page, "CC6.6")) == ["Unassigned", "Security-only"]
    assert badges(row(page, "CC1.1")) == []


def test_matrix_is_editable_for_security_only(matrix_data, personas, client_for):
    security_page = html(client_for(personas["security"]).get("/matrix/"))
    assert len(re.findall(r"<select[^>]*data-role=", security_page)) == 61 * 3
    assert 'aria-label="Filter criteria"' in security_page
    hr_page = html(client_for(personas["owner"]).get("/matrix/"))
    assert "Read-only: Security assigns owners" in hr_page
    assert "data-role=" not in hr_page
    assert "/owners/" not in hr_page


def test_matrix_counts_ignore_filters(matrix_data, personas, client_for):
    page = html(client_for(personas["leadership"]).get("/matrix/?category=privacy"))
    assert stat(page, "count-security-only") == 2  # the programme-wide figure stays on top
    assert len(re.findall(r'<tr id="criterion-', page)) == 18


def test_matrix_invalid_filter_warns(matrix_data, personas, client_for):
    page = html(client_for(personas["leadership"]).get("/matrix/?category=bogus&flag=nope"))
    assert "Some filters were not understood" in page
    assert len(re.findall(r'<tr id="criterion-', page)) == 61


def test_htmx_owner_change_returns_the_row_and_the_counts(matrix_data, teams, personas, client_for):
    response = client_for(personas["security"]).post(
        "/criteria/CC7.2/owners/", {"role": "control_owner", "team": teams["hr"].pk}, HTTP_HX_REQUEST="true"
    )
    page = html(response)
    assert 'data-code="CC7.2"' in page
    assert "Saved" in page
    assert badges(row(page, "CC7.2")) == []
    assert 'hx-swap-oob="true"' in page
    assert stat(page, "count-security-only") == 1
    assert Criterion.objects.get(code="CC7.2").control_owner == teams["hr"]


def test_owner_change_with_unknown_team_changes_nothing(matrix_data, teams, personas, client_for):
    client = client_for(personas["security"])
    log = ActivityLog.objects.count()
    response = client.post("/criteria/CC7.2/owners/", {"role": "control_owner", "team": 999999},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Choose an existing team" in response.content.decode()
    response = client.post("/criteria/CC7.2/owners/", {"role": "ceo", "team": teams["hr"].pk}, follow=True)
    assert "CC7.2:" in response.content.decode()
    assert Criterion.objects.get(code="CC7.2").control_owner == teams["security"]
    assert ActivityLog.objects.count() == log


def test_criterion_page_shows_owners_controls_and_history(matrix_data, teams, personas, client_for):
    ControlFactory(ref="SEC-07", name="Alert triage", criteria=[Criterion.objects.get(code="CC7.2")])
    client_for(personas["security"]).post("/criteria/CC7.2/owners/", {"role": "control_owner",
                                                                      "team": teams["hr"].pk})
    page = html(client_for(personas["leadership"]).get("/criteria/CC7.2/"))
    assert "SEC-07" in page
    assert "owners.changed" in page
    assert "HR" in page


# --- the team page ---------------------------------------------------------------------------


def test_team_page_lists_what_the_team_owns(matrix_data, teams, personas, client_for):
    hr = teams["hr"]
    ControlFactory(ref="HR-03", name="Background checks", control_owner=hr,
                   criteria=[Criterion.objects.get(code="CC1.4")])
    ControlFactory(ref="ENG-01", name="Change review", control_owner=teams["engineering"],
                   criteria=[Criterion.objects.get(code="CC8.1")])
    page = html(client_for(personas["owner"]).get("/teams/hr/"))
    criteria = re.search(r'data-testid="team-criteria".*?</table>', page, re.DOTALL).group(0)
    assert re.findall(r'<tr id="team-criterion-([^"]+)"', criteria) == ["cc14"]
    assert "HR-03" in page and "ENG-01" not in page
    assert "Your team" in page

    other = html(client_for(personas["other_team"]).get("/teams/hr/"))
    assert "Your team" not in other
    assert "team-criterion-cc14" in other  # everyone signed in may read what a team owns


def test_team_page_with_nothing_owned(matrix_data, personas, client_for):
    page = html(client_for(personas["owner"]).get("/teams/legal/"))
    assert "Legal owns no criteria yet." in page
    assert "Legal owns no controls yet." in page


def test_unknown_team_is_404(db, personas, client_for):
    assert client_for(personas["owner"]).get("/teams/no-such-team/").status_code == 404


# --- the controls list -----------------------------------------------------------------------


@pytest.fixture
def controls(catalog, teams):
    c = {code: Criterion.objects.get(code=code) for code in ("CC1.4", "CC6.2", "CC8.1", "P4.3")}
    ControlFactory(ref="HR-01", name="Background checks", description="Screening before the first day.",
                   business_owner=teams["hr"], control_owner=teams["hr"], evidence_owner=teams["hr"],
                   status="implemented", criteria=[c["CC1.4"]])
    ControlFactory(ref="HR-02", name="Leaver access removal", description="Accounts closed on the last day.",
                   business_owner=teams["hr"], control_owner=teams["engineering"], evidence_owner=None,
                   status="needs_attention", criteria=[c["CC6.2"]])
    ControlFactory(ref="ENG-01", name="Change review", description="Every merge is reviewed.",
                   business_owner=teams["engineering"], control_owner=teams["engineering"],
                   evidence_owner=teams["engineering"], status="implemented", criteria=[c["CC8.1"]])
    ControlFactory(ref="SEC-01", name="Alert triage", description="Security looks at every alert.",
                   business_owner=teams["security"], control_owner=teams["security"],
                   evidence_owner=teams["security"], status="draft", criteria=[c["CC6.2"]])
    ControlFactory(ref="LEG-01", name="Retention schedule", description="Data is disposed of on time.",
                   business_owner=teams["legal"], control_owner=teams["legal"], evidence_owner=teams["legal"],
                   status="retired", criteria=[c["P4.3"]])


def refs(response) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/controls/([^/"]+)/">', html(response))


@pytest.mark.parametrize("query, expected", [
    ("", ["ENG-01", "HR-01", "HR-02", "LEG-01", "SEC-01"]),
    ("?q=access", ["HR-02"]),
    ("?q=every", ["ENG-01", "SEC-01"]),  # description matches too
    ("?q=hr-0", ["HR-01", "HR-02"]),
    ("?status=implemented", ["ENG-01", "HR-01"]),
    ("?team=hr", ["HR-01", "HR-02"]),
    ("?team=engineering", ["ENG-01", "HR-02"]),
    ("?criterion=CC6.2", ["HR-02", "SEC-01"]),
    ("?flag=unassigned", ["HR-02"]),
    ("?flag=security_only", ["SEC-01"]),
    ("?category=privacy", ["LEG-01"]),
    ("?team=engineering&status=needs_attention", ["HR-02"]),
    ("?ordering=-ref", ["SEC-01", "LEG-01", "HR-02", "HR-01", "ENG-01"]),
    ("?ordering=name", ["SEC-01", "HR-01", "ENG-01", "HR-02", "LEG-01"]),
    ("?team=hr&ordering=-ref", ["HR-02", "HR-01"]),
    ("?q=nothing-matches-this", []),
])
def test_control_list_filters_and_sorting(controls, personas, client_for, query, expected):
    assert refs(client_for(personas["leadership"]).get(f"/controls/{query}")) == expected


@pytest.mark.parametrize("query", ["?status=bogus", "?team=no-such-team", "?criterion=CC6.9", "?flag=x",
                                   "?ordering=password"])
def test_control_list_invalid_filter_warns_and_lists_everything(controls, personas, client_for, query):
    response = client_for(personas["leadership"]).get(f"/controls/{query}")
    assert "Some filters were not understood" in html(response)
    assert len(refs(response)) == 5


def test_control_list_pagination(catalog, personas, client_for):
    criterion = Criterion.objects.get(code="CC8.1")
    for n in range(1, 31):
        ControlFactory(ref=f"PG-{n:02d}", criteria=[criterion])
    client = client_for(personas["leadership"])
    first = client.get("/controls/")
    assert refs(first) == [f"PG-{n:02d}" for n in range(1, 26)]
    assert "Page 1 of 2" in html(first)
    second = client.get("/controls/?page=2")
    assert refs(second) == [f"PG-{n:02d}" for n in range(26, 31)]
    assert "Page 2 of 2" in html(second)
    # Sorting and paging together, and a page past the end shows the last page, not an error.
    assert refs(client.get("/controls/?ordering=-ref&page=2")) == [f"PG-{n:02d}" for n in range(5, 0, -1)]
    assert refs(client.get("/controls/?page=99")) == refs(second)
    assert refs(client.get("/controls/?page=abc")) == refs(first)


def test_control_list_new_button_only_for_security(controls, personas, client_for):
    assert 'href="/controls/new/"' in html(client_for(personas["security"]).get("/controls/"))
    assert 'href="/controls/new/"' not in html(client_for(personas["owner"]).get("/controls/"))


# --- the control form ------------------------------------------------------------------------


def form_data(**overrides):
    data = {
        "ref": "HR-09", "name": "Security awareness training", "description": "Everyone, every year.",
        "criteria": [Criterion.objects.get(code="CC2.2").pk], "frequency": "annual", "automation": "manual",
        "status": "implemented", "evidence_standard": "Completion export from the LMS.",
    }
    data.update(overrides)
    return data


def test_security_creates_a_control_via_the_page(catalog, teams, personas, client_for):
    response = client_for(personas["security"]).post("/controls/new/", form_data(control_owner=teams["hr"].pk))
    assert response.status_code == 302
    assert response["Location"] == "/controls/HR-09/"
    control = Control.objects.get(ref="HR-09")
    assert control.control_owner == teams["hr"]
    assert list(control.criteria.values_list("code", flat=True)) == ["CC2.2"]
    entry = ActivityLog.objects.get(verb="control.created")
    assert entry.actor == personas["security"]
    assert entry.object_id == str(control.pk)
    assert entry.after["ref"] == "HR-09" and entry.after["control_owner"] == "hr"


@pytest.mark.parametrize("overrides, field, message", [
    ({"ref": "bad ref"}, "ref", "uppercase prefix"),
    ({"criteria": []}, "criteria", "This field is required"),
    ({"name": ""}, "name", "This field is required"),
])
def test_create_form_errors_save_nothing(catalog, personas, client_for, overrides, field, message):
    log = ActivityLog.objects.count()
    page = html(client_for(personas["security"]).post("/controls/new/", form_data(**overrides)))
    assert "nothing was saved" in page
    assert f'id="id_{field}_errors"' in page
    assert message in page
    assert not Control.objects.exists()
    assert ActivityLog.objects.count() == log


def test_edit_with_empty_name_rerenders_and_saves_nothing(catalog, teams, personas, client_for):
    control = ControlFactory(ref="HR-09", name="Security awareness training",
                             criteria=[Criterion.objects.get(code="CC2.2")])
    before = Control.objects.filter(pk=control.pk).values().get()
    log = ActivityLog.objects.count()
    page = html(client_for(personas["security"]).post(
        "/controls/HR-09/edit/", form_data(name="", description="Changed, but must not be saved.")
    ))
    assert "nothing was saved" in page
    assert 'id="id_name_errors"' in page
    assert 'aria-invalid="true"' in page
    assert "Changed, but must not be saved." in page  # the person's input is kept in the form
    assert Control.objects.filter(pk=control.pk).values().get() == before
    assert ActivityLog.objects.count() == log


def test_edit_saves_and_logs_the_change(catalog, teams, personas, client_for):
    ControlFactory(ref="HR-09", name="Training", criteria=[Criterion.objects.get(code="CC2.2")])
    response = client_for(personas["security"]).post(
        "/controls/HR-09/edit/", form_data(ref="IGNORED-01", name="Annual security training")
    )
    assert response.status_code == 302
    control = Control.objects.get(ref="HR-09")  # the reference cannot change through the form
    assert control.name == "Annual security training"
    entry = ActivityLog.objects.get(verb="control.changed")
    assert entry.before["name"] == "Training" and entry.after["name"] == "Annual security training"


def test_control_detail_shows_history_and_edit_link(catalog, personas, client_for):
    client = client_for(personas["security"])
    client.post("/controls/new/", form_data())
    page = html(client.get("/controls/HR-09/"))
    assert "control.created" in page
    assert 'href="/controls/HR-09/edit/"' in page
    assert 'href="/controls/HR-09/edit/"' not in html(client_for(personas["leadership"]).get("/controls/HR-09/"))


def test_unknown_control_is_404(db, personas, client_for):
    assert client_for(personas["security"]).get("/controls/NOPE-01/").status_code == 404
    assert client_for(personas["security"]).get("/controls/NOPE-01/edit/").status_code == 404
