"""Who may be an identity's technical owner: an active member of its owner team — never a
person who left, never an external auditor, never someone in another team — wherever it is set
(services, pages, API, imports). The one already on record may stay after leaving (the
identity then shows as orphaned) until someone changes it."""

import pytest
from django.core.exceptions import ValidationError

from nhi import services
from nhi.models import NonHumanIdentity
from tests.factories import member_of
from tests.nhi.conftest import csv_bytes, identity_row
from tests.nhi.factories import make_nhi, people_fixture  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("fast_hashing")

HR_ONLY = "Choose an active member of HR."


@pytest.fixture
def leaver(teams):
    return member_of(teams["hr"], username="lee_leaver", is_active=False)


@pytest.fixture
def strangers(people, leaver):
    return {"another team": people["other_team"], "a leaver": leaver, "an external auditor": people["auditor"]}


@pytest.mark.parametrize("who", ["another team", "a leaver", "an external auditor"])
def test_register_refuses_anyone_but_an_active_member(teams, people, strangers, who):
    with pytest.raises(ValidationError) as refused:
        services.nhi_create(actor=people["owner"], name="k", kind="access_key", provider="AWS", external_id="k-1",
                            owner_team=teams["hr"], technical_owner=strangers[who])
    assert refused.value.message_dict == {"technical_owner": [HR_ONLY]}
    assert not NonHumanIdentity.objects.exists()


def test_register_takes_an_active_member(teams, people):
    nhi = services.nhi_create(actor=people["owner"], name="k", kind="access_key", provider="AWS", external_id="k-1",
                              owner_team=teams["hr"], technical_owner=people["hr_lead"])
    assert nhi.technical_owner == people["hr_lead"]


@pytest.mark.parametrize("who", ["another team", "a leaver", "an external auditor"])
def test_changing_to_anyone_but_an_active_member_is_refused(teams, people, strangers, who):
    nhi = make_nhi(teams["hr"], technical_owner=people["owner"])
    with pytest.raises(ValidationError) as refused:
        services.nhi_update(nhi=nhi, actor=people["owner"], technical_owner=strangers[who])
    assert refused.value.message_dict == {"technical_owner": [HR_ONLY]}
    assert NonHumanIdentity.objects.get(pk=nhi.pk).technical_owner == people["owner"]


def test_the_owner_on_record_stays_after_leaving_until_changed(teams, people, leaver):
    nhi = make_nhi(teams["hr"], technical_owner=leaver)
    services.nhi_update(nhi=nhi, actor=people["owner"], technical_owner=leaver, purpose="Still needed.")
    nhi.refresh_from_db()
    assert (nhi.technical_owner, nhi.purpose) == (leaver, "Still needed.")
    assert NonHumanIdentity.objects.with_state().get(pk=nhi.pk).is_orphaned


def test_the_edit_page_keeps_a_departed_owner_and_offers_only_active_members(teams, people, leaver, client_for):
    nhi = make_nhi(teams["hr"], "payroll key", technical_owner=leaver)
    client = client_for(people["owner"])
    offered = {person.pk for person in client.get(f"/nhi/{nhi.pk}/edit/").context["form"]
               .fields["technical_owner"].queryset}
    assert offered == {people["owner"].pk, people["hr_lead"].pk, leaver.pk}  # the one on record, kept
    response = client.post(f"/nhi/{nhi.pk}/edit/", {
        "name": "payroll key", "kind": "access_key", "provider": "AWS", "environment": "production",
        "external_id": nhi.external_id, "technical_owner": leaver.pk, "purpose": "Exports payroll."})
    assert response.status_code == 302
    assert NonHumanIdentity.objects.get(pk=nhi.pk).technical_owner == leaver


def test_the_register_page_offers_members_of_the_users_teams_only(teams, people, leaver, client_for):
    offered = {person.username for person in client_for(people["owner"]).get("/nhi/new/").context["form"]
               .fields["technical_owner"].queryset}
    assert offered == {people["owner"].username, people["hr_lead"].username}


# --- imports ----------------------------------------------------------------------------------

@pytest.mark.parametrize("username", ["olivia_legal", "lee_leaver", "ada_auditor"])
def test_an_import_refuses_a_technical_owner_outside_the_owner_team(run_import, teams, people, leaver, username):
    imp = run_import(csv_bytes([identity_row(1), identity_row(2, technical_owner=username)]))
    assert imp.preview["errors"] == [{"line": 3, "external_id": "key-2",
                                      "message": f"technical_owner: {HR_ONLY}"}]
    assert imp.new_count == 1


def test_an_import_keeps_a_departed_owner_already_on_record(run_import, apply_import, teams, people, leaver):
    make_nhi(teams["hr"], "Key 1", source="csv", external_id="key-1", technical_owner=leaver)
    imp = run_import(csv_bytes([identity_row(1, technical_owner="lee_leaver")]))
    assert imp.error_count == 0, imp.preview["errors"]
    changed = run_import(csv_bytes([identity_row(1, technical_owner="olivia_legal")]))
    assert changed.preview["errors"][0]["message"] == f"technical_owner: {HR_ONLY}"
