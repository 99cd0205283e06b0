"""The activity log is append-only: in the ORM, in the database and in the admin."""

import pytest
from django.db import DatabaseError, connection, transaction

from soc2hub.models import ActivityLog, AppendOnlyError
from soc2hub.services import activity_record
from tests.factories import TeamFactory, UserFactory


@pytest.fixture
def entry(db):
    actor = UserFactory(username="sam")
    team = TeamFactory(name="HR", slug="hr")
    with transaction.atomic():
        return activity_record(actor=actor, verb="owners.changed", obj=team, before={"a": 1}, after={"a": 2})


def unchanged(entry) -> bool:
    fresh = ActivityLog.objects.get(pk=entry.pk)
    return (fresh.verb, fresh.before, fresh.after, fresh.message) == ("owners.changed", {"a": 1}, {"a": 2}, "")


def test_record_points_at_the_object(entry):
    assert entry.object_id == str(entry.content_type.get_object_for_this_type().pk)
    assert entry.object_repr == "HR"
    assert entry.actor.username == "sam"
    assert list(ActivityLog.objects.for_object(entry.content_type.get_object_for_this_type())) == [entry]


def test_save_of_an_existing_row_is_refused(entry):
    entry.verb = "forged"
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert unchanged(entry)


def test_delete_of_a_row_is_refused(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert ActivityLog.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("operation", [
    lambda qs: qs.update(verb="forged"),
    lambda qs: qs.filter(verb="owners.changed").update(message="x"),
    lambda qs: qs.delete(),
    lambda qs: qs.filter(pk__gt=0).delete(),
    lambda qs: qs.bulk_update([_forged(qs)], ["verb"]),
], ids=["update", "filtered update", "delete", "filtered delete", "bulk_update"])
def test_queryset_writes_are_refused(entry, operation):
    with pytest.raises(AppendOnlyError), transaction.atomic():
        operation(ActivityLog.objects.all())
    assert unchanged(entry)


def _forged(qs):
    row = qs.get()
    row.verb = "forged"
    return row


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        activity_record(actor=None, verb="nothing.happened")
    assert not ActivityLog.objects.exists()


def test_record_rolls_back_with_the_change(db):
    team = TeamFactory(name="Legal", slug="legal")
    with pytest.raises(RuntimeError, match="boom"), transaction.atomic():
        team.name = "Legal & Privacy"
        team.save()
        activity_record(actor=None, verb="team.changed", obj=team)
        raise RuntimeError("boom")
    assert not ActivityLog.objects.exists()
    team.refresh_from_db()
    assert team.name == "Legal"


# --- the database refuses too ----------------------------------------------------------------


def _raw(sql, pk):
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])


def test_postgres_trigger_rejects_raw_update(entry, require_postgres):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _raw("UPDATE soc2hub_activitylog SET verb = 'forged' WHERE id = %s", entry.pk)
    assert unchanged(entry)


def test_postgres_trigger_rejects_raw_delete(entry, require_postgres):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _raw("DELETE FROM soc2hub_activitylog WHERE id = %s", entry.pk)
    assert ActivityLog.objects.filter(pk=entry.pk).exists()


def test_database_trigger_rejects_raw_update_on_any_backend(entry):
    """SQLite and PostgreSQL both carry a trigger (migration 0002)."""
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _raw("UPDATE soc2hub_activitylog SET verb = 'forged' WHERE id = %s", entry.pk)
    assert unchanged(entry)


# --- the admin -------------------------------------------------------------------------------


@pytest.fixture
def superuser_client(db, client_for):
    return client_for(UserFactory(username="root", is_staff=True, is_superuser=True))


def test_admin_changelist_has_no_add_button(entry, superuser_client):
    response = superuser_client.get("/admin/soc2hub/activitylog/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "owners.changed" in html
    assert "/admin/soc2hub/activitylog/add/" not in html
    assert response.context["has_add_permission"] is False
    assert "delete_selected" not in html


def test_admin_add_is_refused(entry, superuser_client):
    assert superuser_client.get("/admin/soc2hub/activitylog/add/").status_code == 403
    response = superuser_client.post("/admin/soc2hub/activitylog/add/", {"verb": "forged"})
    assert response.status_code == 403
    assert ActivityLog.objects.count() == 1


def test_admin_change_view_is_read_only_and_refuses_a_post(entry, superuser_client):
    url = f"/admin/soc2hub/activitylog/{entry.pk}/change/"
    response = superuser_client.get(url)
    # A superuser may look at an entry, but the page offers nothing to save or delete.
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert response.context["has_change_permission"] is False
        assert 'name="_save"' not in response.content.decode()
        assert f"/admin/soc2hub/activitylog/{entry.pk}/delete/" not in response.content.decode()
    response = superuser_client.post(url, {"verb": "forged", "message": "forged"})
    assert response.status_code == 403
    assert unchanged(entry)


def test_admin_delete_is_refused(entry, superuser_client):
    url = f"/admin/soc2hub/activitylog/{entry.pk}/delete/"
    assert superuser_client.get(url).status_code == 403
    assert superuser_client.post(url, {"post": "yes"}).status_code == 403
    assert ActivityLog.objects.filter(pk=entry.pk).exists()


def test_admin_bulk_delete_action_is_refused(entry, superuser_client):
    superuser_client.post(
        "/admin/soc2hub/activitylog/",
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert ActivityLog.objects.filter(pk=entry.pk).exists()
