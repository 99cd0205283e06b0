"""The inventory pages as people use them: filters, search, sorting and pages; the visibility
summary against numbers worked out by hand; the CSV export of a filtered list; the detail page
with its history; and the rotate, revoke and transfer forms with good and bad input.

``estate`` (below) is shared with test_api.py, so the API is checked against the same rows.
"""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from nhi import campaigns, services
from nhi.models import NhiKind, NhiStatus, NonHumanIdentity, RotationRecord, rotation_due
from soc2hub.models import ActivityLog, Notification, User
from tests.evidence.factories import pdf
from tests.factories import member_of
from tests.nhi.factories import days, make_nhi, today

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(teams, personas):
    """Nine identities whose state is known by construction (as of today):

    ============================  ===========  ==============================================
    name                          team         state
    ============================  ===========  ==============================================
    hr-clean-key                  HR           none (external id holds ``arn:aws:iam::111``)
    hr-overdue-key                HR           rotation overdue (rotated 100 days ago, 90-day policy)
    hr-never-secret               HR           never rotated, so overdue (staging)
    hr-stale-bot                  HR           stale (last used 100 days ago; development)
    hr-owner-left                 HR           orphaned (its technical owner left)
    hr-revoked-key                HR           revoked: no state, not live
    eng-overdue-key               Engineering  rotation overdue (rotated 200 days ago)
    eng-expiring-cert             Engineering  expiring in 10 days
    unowned-key                   none         orphaned (no owner team)
    ============================  ===========  ==============================================
    """
    hr, eng = teams["hr"], teams["engineering"]
    leaver = member_of(hr, username="lee_leaver", is_active=False)
    rows = [
        make_nhi(hr, "hr-clean-key", external_id="arn:aws:iam::111:user/payroll#access_key_1"),
        make_nhi(hr, "hr-overdue-key", created_on=days(-400), last_rotated_on=days(-100)),
        make_nhi(hr, "hr-never-secret", kind=NhiKind.CICD_SECRET, last_rotated_on=None, environment="staging"),
        make_nhi(hr, "hr-stale-bot", kind=NhiKind.BOT, created_on=days(-400), last_used_on=days(-100),
                 environment="development"),
        make_nhi(hr, "hr-owner-left", kind=NhiKind.SERVICE_ACCOUNT, technical_owner=leaver),
        make_nhi(hr, "hr-revoked-key", status=NhiStatus.REVOKED, last_rotated_on=None),
        make_nhi(eng, "eng-overdue-key", created_on=days(-400), last_rotated_on=days(-200)),
        make_nhi(eng, "eng-expiring-cert", kind=NhiKind.CERTIFICATE, expires_on=days(10)),
        make_nhi(None, "unowned-key"),
    ]
    return {nhi.name: nhi for nhi in rows}


ALL = {"hr-clean-key", "hr-overdue-key", "hr-never-secret", "hr-stale-bot", "hr-owner-left", "hr-revoked-key",
       "eng-overdue-key", "eng-expiring-cert", "unowned-key"}
HR = {name for name in ALL if name.startswith("hr-")}

# Each query string and what Security sees with it (the API is checked against the same table).
FILTERS = {
    "": ALL,
    "kind=access_key": {"hr-clean-key", "hr-overdue-key", "hr-revoked-key", "eng-overdue-key", "unowned-key"},
    "kind=certificate": {"eng-expiring-cert"},
    "status=revoked": {"hr-revoked-key"},
    "status=active": ALL - {"hr-revoked-key"},
    "team=hr": HR,
    "team=engineering": {"eng-overdue-key", "eng-expiring-cert"},
    "environment=staging": {"hr-never-secret"},
    "environment=development": {"hr-stale-bot"},
    "overdue=true": {"hr-overdue-key", "hr-never-secret", "eng-overdue-key"},
    "overdue=false": ALL - {"hr-overdue-key", "hr-never-secret", "eng-overdue-key"},
    "never_rotated=true": {"hr-never-secret"},
    "stale=true": {"hr-stale-bot"},
    "orphaned=true": {"hr-owner-left", "unowned-key"},
    "expiring=true": {"eng-expiring-cert"},
    "team=hr&overdue=true": {"hr-overdue-key", "hr-never-secret"},
    "team=hr&kind=access_key&status=active": {"hr-clean-key", "hr-overdue-key"},
    "q=STALE": {"hr-stale-bot"},  # by name, any case
    "q=arn:aws:iam::111": {"hr-clean-key"},  # by external id
    "q=payroll&team=engineering": set(),
    "q=key&overdue=true": {"hr-overdue-key", "eng-overdue-key"},
    "kind=access_key&status=active": {"hr-clean-key", "hr-overdue-key", "eng-overdue-key", "unowned-key"},
}


def listed(response) -> list[str]:
    assert response.status_code == 200
    return [n.name for n in response.context["page"]]


def world() -> dict:
    """Everything a refused form must leave as it was."""
    return {
        "identities": list(NonHumanIdentity.objects.order_by("pk").values()),
        "rotations": RotationRecord.objects.count(),
        "log": ActivityLog.objects.count(),
        "notifications": Notification.objects.count(),
    }


# --- the inventory -----------------------------------------------------------------------------------

@pytest.mark.parametrize("query", FILTERS)
def test_inventory_filters(estate, personas, client_for, query):
    names = listed(client_for(personas["security"]).get(f"/nhi/?{query}"))

    assert set(names) == FILTERS[query]
    assert names == sorted(names)  # by name unless asked otherwise


def test_the_owner_team_filters_within_what_it_sees(estate, personas, client_for):
    client = client_for(personas["owner"])

    assert set(listed(client.get("/nhi/"))) == HR
    assert set(listed(client.get("/nhi/?overdue=true"))) == {"hr-overdue-key", "hr-never-secret"}
    assert listed(client.get("/nhi/?team=engineering")) == []


def test_a_filter_the_page_cannot_read_is_named(estate, personas, client_for):
    response = client_for(personas["security"]).get("/nhi/?kind=rocket")

    assert set(listed(response)) == ALL
    page = response.content.decode()
    assert "Some filters were not understood and were ignored: kind" in page


def test_an_unreadable_filter_leaves_the_others_applied(estate, personas, client_for):
    response = client_for(personas["security"]).get("/nhi/?kind=rocket&overdue=true")

    assert set(listed(response)) == FILTERS["overdue=true"]


def test_an_export_with_an_unreadable_filter_does_not_export_everything(estate, personas, client_for):
    response = client_for(personas["security"]).get("/nhi/export.csv?team=hr&overdue=true&kind=rocket")

    rows = exported(response) if response.status_code == 200 else []
    assert response.status_code == 400 or {row["name"] for row in rows} <= FILTERS["team=hr&overdue=true"]


@pytest.mark.parametrize("query, expected", [
    ("ordering=-name", sorted(ALL, reverse=True)),
    ("ordering=name&team=engineering", ["eng-expiring-cert", "eng-overdue-key"]),
    ("ordering=-last_rotated&team=engineering", ["eng-expiring-cert", "eng-overdue-key"]),
    ("ordering=last_rotated&team=engineering", ["eng-overdue-key", "eng-expiring-cert"]),
    ("ordering=-last_used&team=hr&stale=true", ["hr-stale-bot"]),
    ("ordering=kind&team=engineering", ["eng-overdue-key", "eng-expiring-cert"]),  # access_key < certificate
    ("ordering=-expires&expiring=true", ["eng-expiring-cert"]),
])
def test_inventory_ordering(estate, personas, client_for, query, expected):
    assert listed(client_for(personas["security"]).get(f"/nhi/?{query}")) == expected


def test_inventory_pages_of_fifty_keep_their_filters(teams, personas, client_for):
    NonHumanIdentity.objects.bulk_create([
        NonHumanIdentity(name=f"key-{n:03d}", kind="access_key", provider="AWS", external_id=f"k-{n}",
                         owner_team=teams["hr"], created_on=days(-10), last_rotated_on=days(-10),
                         rotation_interval_days=90, rotation_due_on=rotation_due(days(-10), 90))
        for n in range(120)
    ] + [NonHumanIdentity(name=f"legal-{n:03d}", kind="access_key", provider="AWS", external_id=f"l-{n}",
                          owner_team=teams["legal"]) for n in range(30)])
    client = client_for(personas["security"])

    first, third = client.get("/nhi/?team=hr"), client.get("/nhi/?team=hr&page=3")

    assert listed(first) == [f"key-{n:03d}" for n in range(50)]
    assert listed(client.get("/nhi/?team=hr&page=2")) == [f"key-{n:03d}" for n in range(50, 100)]
    assert listed(third) == [f"key-{n:03d}" for n in range(100, 120)]
    assert "Showing 101–120 of 120" in third.content.decode()
    assert "?team=hr&amp;page=2" in first.content.decode()  # the next page keeps the filter
    assert listed(client.get("/nhi/?team=hr&page=99")) == listed(third)  # past the end: the last page
    assert listed(client.get("/nhi/?team=hr&page=abc")) == listed(first)


# --- the visibility summary ------------------------------------------------------------------------

def pct(row) -> dict:
    return {key: row[f"pct_{key}"] for key in
            ("owned", "is_rotation_overdue", "is_never_rotated", "is_stale", "is_orphaned")} | {"total": row["total"]}


def test_visibility_summary_overall_and_per_team(estate, teams, personas, client_for):
    response = client_for(personas["security"]).get("/nhi/summary/")
    summary = response.context["summary"]

    # 8 live identities (the revoked one does not count): 7 owned, 3 overdue (one never rotated),
    # 1 stale, 2 orphaned (no team; owner left).
    assert pct(summary["overall"]) == {"total": 8, "owned": 87.5, "is_rotation_overdue": 37.5,
                                       "is_never_rotated": 12.5, "is_stale": 12.5, "is_orphaned": 25.0}
    per_team = {row["team"].slug if row["team"] else None: pct(row) for row in summary["per_team"]}
    assert per_team == {
        "hr": {"total": 5, "owned": 100.0, "is_rotation_overdue": 40.0, "is_never_rotated": 20.0,
               "is_stale": 20.0, "is_orphaned": 20.0},
        "engineering": {"total": 2, "owned": 100.0, "is_rotation_overdue": 50.0, "is_never_rotated": 0.0,
                        "is_stale": 0.0, "is_orphaned": 0.0},
        None: {"total": 1, "owned": 0.0, "is_rotation_overdue": 0.0, "is_never_rotated": 0.0, "is_stale": 0.0,
               "is_orphaned": 100.0},
    }
    expiring = {row["team"].slug if row["team"] else None: row["is_expiring_soon"] for row in summary["per_team"]}
    assert expiring == {"engineering": 1, "hr": 0, None: 0}
    page = response.content.decode()
    for testid, value in (("nhi-total", "8"), ("pct-owned", "87.5%"), ("pct-overdue", "37.5%"),
                          ("pct-never", "12.5%"), ("pct-stale", "12.5%"), ("pct-orphaned", "25.0%")):
        assert f'data-testid="{testid}">{value}<' in page, testid
    assert "No owner team" in page


def test_a_team_member_sees_the_summary_of_its_own_identities(estate, personas, client_for):
    client = client_for(personas["owner"])
    summary = client.get("/nhi/summary/").context["summary"]

    assert pct(summary["overall"]) == {"total": 5, "owned": 100.0, "is_rotation_overdue": 40.0,
                                       "is_never_rotated": 20.0, "is_stale": 20.0, "is_orphaned": 20.0}
    assert [row["team"].slug for row in summary["per_team"]] == ["hr"]
    inventory = client.get("/nhi/").content.decode()  # the same tiles head the inventory
    assert 'data-testid="pct-overdue">40.0%<' in inventory


def test_the_summary_moves_when_an_overdue_key_is_rotated(estate, personas, client_for):
    client = client_for(personas["owner"])
    client.post(f"/nhi/{estate['hr-overdue-key'].pk}/rotate/",
                {"rotated_on": today().isoformat(), "evidence_link": "https://git.example.com/pr/9"})

    assert client.get("/nhi/summary/").context["summary"]["overall"]["pct_is_rotation_overdue"] == 20.0


def test_an_empty_inventory_summarises_to_zero(teams, personas, client_for):
    summary = client_for(personas["security"]).get("/nhi/summary/").context["summary"]

    assert pct(summary["overall"]) == {"total": 0, "owned": 0.0, "is_rotation_overdue": 0.0,
                                       "is_never_rotated": 0.0, "is_stale": 0.0, "is_orphaned": 0.0}
    assert summary["per_team"] == []


# --- the CSV export -----------------------------------------------------------------------------------

def exported(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="non-human-identities-')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


@pytest.mark.parametrize("query", ["", "team=hr&overdue=true", "orphaned=true", "q=arn:aws:iam::111",
                                   "kind=access_key&status=active"])
def test_the_export_holds_exactly_the_filtered_list(estate, personas, client_for, query):
    rows = exported(client_for(personas["security"]).get(f"/nhi/export.csv?{query}"))

    assert {row["name"] for row in rows} == FILTERS[query]


def test_the_export_is_scoped_to_what_the_person_sees(estate, personas, client_for):
    rows = exported(client_for(personas["owner"]).get("/nhi/export.csv"))
    assert {row["name"] for row in rows} == HR


def test_the_export_neutralises_formula_cells(teams, personas, client_for):
    make_nhi(teams["hr"], '=HYPERLINK("https://evil.example","click")', external_id="+cmd|' /C calc'!A0",
             purpose="-2+3", vendor="@SUM(A1:A9)", scopes="=1+1\nread:all")
    make_nhi(teams["hr"], "plain-key", purpose="a = b")

    rows = {row["external_id"]: row for row in exported(client_for(personas["owner"]).get("/nhi/export.csv"))}

    hostile = rows["'+cmd|' /C calc'!A0"]
    assert hostile["name"] == '\'=HYPERLINK("https://evil.example","click")'
    assert (hostile["purpose"], hostile["vendor"], hostile["scopes"]) == ("'-2+3", "'@SUM(A1:A9)", "'=1+1;read:all")
    plain = next(row for row in rows.values() if row["name"] == "plain-key")
    assert plain["purpose"] == "a = b"
    for row in rows.values():
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


# --- the detail page ---------------------------------------------------------------------------------

def test_the_detail_page_shows_the_identity_its_rotations_and_its_history(teams, personas, client_for):
    owner = personas["owner"]
    nhi = services.nhi_create(actor=owner, name="hr-sftp-key", kind=NhiKind.SSH_KEY, provider="Bank SFTP",
                              external_id="sftp:payroll", owner_team=teams["hr"], created_on=days(-30),
                              last_rotated_on=days(-30), credential_fingerprint="SHA256:abcd…wxyz")
    client = client_for(owner)
    client.post(f"/nhi/{nhi.pk}/rotate/", {"rotated_on": days(-1).isoformat(),
                                           "evidence_link": "https://tickets.example.com/OPS-77",
                                           "note": "Quarterly rotation"})
    client.post(f"/nhi/{nhi.pk}/revoke/", {"reason": "The bank retired the SFTP endpoint."})

    response = client.get(f"/nhi/{nhi.pk}/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "SHA256:abcd…wxyz" in page and "sftp:payroll" in page
    assert "https://tickets.example.com/OPS-77" in page and "Quarterly rotation" in page
    assert [entry.verb for entry in response.context["history"]] == ["nhi.revoked", "nhi.rotated", "nhi.created"]
    for verb in ("nhi.created", "nhi.rotated", "nhi.revoked"):
        assert f"<code>{verb}</code>" in page
    assert "The bank retired the SFTP endpoint." in page
    assert 'data-testid="nhi-status">Revoked<' in page
    assert "Record a rotation" not in page  # nothing left to act on


def test_an_unknown_identity_is_a_404(personas, client_for):
    assert client_for(personas["security"]).get("/nhi/999999/").status_code == 404


# --- rotate, revoke, transfer through the forms ---------------------------------------------------------

@pytest.fixture
def key(estate):
    return estate["hr-overdue-key"]


def test_rotating_with_a_link(key, personas, client_for):
    response = client_for(personas["owner"]).post(
        f"/nhi/{key.pk}/rotate/", {"rotated_on": days(-2).isoformat(), "evidence_link": "https://git.example.com/pr/1",
                                   "new_fingerprint": "AKIA…NEW1"}, follow=True)

    assert response.redirect_chain == [(f"/nhi/{key.pk}/", 302)]
    assert "Rotation recorded." in response.content.decode()
    key.refresh_from_db()
    assert (key.last_rotated_on, key.rotation_due_on, key.credential_fingerprint) == (days(-2), days(88), "AKIA…NEW1")
    record = RotationRecord.objects.get(nhi=key)
    assert (record.rotated_by, record.evidence_link) == (personas["owner"], "https://git.example.com/pr/1")


def test_rotating_with_a_file(key, personas, client_for):
    response = client_for(personas["owner"]).post(f"/nhi/{key.pk}/rotate/", {
        "rotated_on": today().isoformat(), "evidence_file": pdf("vault-audit.pdf")})

    assert response.status_code == 302
    record = RotationRecord.objects.get(nhi=key)
    assert record.evidence_file.name.endswith(".pdf") and len(record.evidence_sha256) == 64


@pytest.mark.parametrize("form, message", [
    ({"rotated_on": "FUTURE", "evidence_link": "https://git.example.com/pr/1"}, "The rotation date is in the future."),
    ({"rotated_on": "TODAY"}, "Attach evidence of the rotation: a link to the change or a file."),
    ({"rotated_on": "TODAY", "evidence_link": "   "}, "Attach evidence of the rotation: a link to the change or a file."),
    ({"rotated_on": "31/02/2026", "evidence_link": "https://git.example.com/pr/1"}, "Enter a valid date."),
    ({"rotated_on": "", "evidence_link": "https://git.example.com/pr/1"}, "This field is required."),
    ({"rotated_on": "TODAY", "evidence_link": "javascript:alert(1)"}, "Enter a valid URL."),
    ({"rotated_on": "1990-01-01", "evidence_link": "https://git.example.com/pr/1"},
     "The rotation date is before the identity was created."),
])
def test_a_rotation_the_form_refuses_changes_nothing(key, personas, client_for, form, message):
    form = {**form, "rotated_on": {"FUTURE": days(1).isoformat(), "TODAY": today().isoformat()}.get(
        form["rotated_on"], form["rotated_on"])}
    client = client_for(personas["owner"])
    before = world()

    response = client.post(f"/nhi/{key.pk}/rotate/", form)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert world() == before


def test_revoking_and_decommissioning(estate, personas, client_for):
    client = client_for(personas["owner"])
    revoked = client.post(f"/nhi/{estate['hr-clean-key'].pk}/revoke/", {"reason": "Leaked in a log.",
                                                                       "evidence_link": "https://x.example.com/1"})
    decommissioned = client.post(f"/nhi/{estate['hr-stale-bot'].pk}/revoke/",
                                 {"reason": "The bot was retired.", "decommission": "on"})

    assert revoked.status_code == decommissioned.status_code == 302
    assert NonHumanIdentity.objects.get(pk=estate["hr-clean-key"].pk).status == NhiStatus.REVOKED
    assert NonHumanIdentity.objects.get(pk=estate["hr-stale-bot"].pk).status == NhiStatus.DECOMMISSIONED
    [entry] = ActivityLog.objects.filter(verb="nhi.revoked")
    assert (entry.message, entry.after["evidence_link"]) == ("Leaked in a log.", "https://x.example.com/1")


@pytest.mark.parametrize("reason", ["", "   \n  "])
def test_revoking_without_a_reason_changes_nothing(key, personas, client_for, reason):
    before = world()
    response = client_for(personas["owner"]).post(f"/nhi/{key.pk}/revoke/", {"reason": reason})

    assert response.status_code == 400
    assert "Say why it is revoked; it goes on the record." in response.content.decode()
    assert world() == before


def test_revoking_what_is_already_revoked_is_refused(estate, personas, client_for):
    nhi = estate["hr-revoked-key"]
    before = world()
    response = client_for(personas["owner"]).post(f"/nhi/{nhi.pk}/revoke/", {"reason": "Again."})

    assert response.status_code == 400
    assert "hr-revoked-key is already revoked." in response.content.decode()
    assert world() == before


def test_transferring_marks_the_credential_for_rotation(key, teams, personas, client_for):
    erin = member_of(teams["engineering"], username="erin_eng")
    response = client_for(personas["security"]).post(f"/nhi/{key.pk}/transfer/",
                                                     {"team": teams["engineering"].pk, "technical_owner": erin.pk})

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.owner_team, key.technical_owner, key.rotation_required) == (teams["engineering"], erin, True)
    assert Notification.objects.filter(user=erin, kind="nhi.transferred").count() == 1


@pytest.mark.parametrize("who, message", [
    # One answer for a stranger, a leaver (not offered) and an id nobody has.
    ("other_team", "Choose an active member of Engineering."),  # Olivia is in Legal
    ("leaver", "Choose an active member of Engineering."),
    ("unknown", "Choose an active member of Engineering."),
    ("nobody", None),
])
def test_a_transfer_the_form_refuses_changes_nothing(key, teams, personas, client_for, who, message):
    form = {"team": teams["engineering"].pk}
    if who == "other_team":
        form["technical_owner"] = personas["other_team"].pk
    elif who == "leaver":
        form["technical_owner"] = User.objects.get(username="lee_leaver").pk
    elif who == "unknown":
        form["technical_owner"] = 987654
    else:
        form = {"technical_owner": ""}  # no team chosen
        message = "This field is required."
    before = world()

    response = client_for(personas["owner"]).post(f"/nhi/{key.pk}/transfer/", form)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert world() == before


def test_after_transferring_away_the_owner_lands_on_a_page_it_can_see(key, teams, personas, client_for):
    response = client_for(personas["owner"]).post(f"/nhi/{key.pk}/transfer/", {"team": teams["engineering"].pk},
                                                  follow=True)

    assert response.status_code == 200
    assert "Ownership transferred." in response.content.decode()


# --- registering and editing --------------------------------------------------------------------------

REGISTER = {"name": "hr-new-key", "kind": "access_key", "provider": "AWS", "environment": "production",
            "external_id": "hr-new-1"}


def test_registering_an_identity(teams, personas, client_for):
    response = client_for(personas["owner"]).post("/nhi/new/", {**REGISTER, "owner_team": teams["hr"].pk})

    nhi = NonHumanIdentity.objects.get(external_id="hr-new-1")
    assert response.status_code == 302 and response["Location"] == f"/nhi/{nhi.pk}/"
    assert (nhi.owner_team, nhi.source, nhi.rotation_interval_days) == (teams["hr"], "manual", 90)
    assert ActivityLog.objects.filter(verb="nhi.created").count() == 1


@pytest.mark.parametrize("persona", ["security", "owner"])
def test_registering_an_identity_with_no_owner_team_is_refused(teams, personas, client_for, persona):
    before = world()
    response = client_for(personas[persona]).post("/nhi/new/", {**REGISTER, "owner_team": ""})

    assert response.status_code == 400
    assert response.context["form"].errors["owner_team"] == ["This field is required."]
    assert "nothing was saved" in response.content.decode()
    assert world() == before


def test_registering_with_a_future_rotation_date_is_refused(teams, personas, client_for):
    before = world()
    response = client_for(personas["owner"]).post("/nhi/new/", {**REGISTER, "owner_team": teams["hr"].pk,
                                                                 "last_rotated_on": days(3).isoformat()})

    assert response.status_code == 400
    assert response.context["form"].errors["last_rotated_on"] == ["This date is in the future."]
    assert world() == before


def test_editing_cannot_move_an_identity_to_another_team(key, teams, personas, client_for):
    response = client_for(personas["owner"]).post(f"/nhi/{key.pk}/edit/", {
        "name": "hr-overdue-key (payroll)", "kind": key.kind, "provider": key.provider, "environment": key.environment,
        "external_id": key.external_id, "owner_team": teams["legal"].pk, "created_on": key.created_on.isoformat(),
        "last_used_on": key.last_used_on.isoformat(), "last_rotated_on": key.last_rotated_on.isoformat(), "rotation_interval_days": 90})

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.owner_team) == ("hr-overdue-key (payroll)", teams["hr"])
    [entry] = ActivityLog.objects.filter(verb="nhi.changed")
    assert entry.after == {"name": "hr-overdue-key (payroll)"}


def test_the_inventory_shows_state_badges(estate, personas, client_for):
    page = client_for(personas["security"]).get("/nhi/?team=hr").content.decode()

    assert page.count("Never rotated</span>") == 1 and page.count("Rotation overdue</span>") == 1
    assert page.count(">Stale</span>") == 1
    assert page.count(">Orphaned</span>") == 1  # the leaver's key; "Owner left" once offboarding flags it


# --- the campaign list ---------------------------------------------------------------------------------

def test_the_campaign_list_is_newest_first(estate, personas, client_for):
    for name in ("Q3 review", "Q4 review"):
        campaigns.campaign_open(actor=personas["security"], name=name, due_on=days(14))
    client = client_for(personas["security"])

    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/nhi/campaigns/")

    [listing] = [q["sql"] for q in ctx.captured_queries
                 if 'FROM "nhi_attestationcampaign"' in q["sql"] and "LIMIT" in q["sql"]]
    assert "ORDER BY" in listing
    assert [c.name for c in response.context["page"]] == ["Q4 review", "Q3 review"]
