"""Who administers what in Django's admin: the setup superuser everything; Security the
programme's rows, never accounts' powers (groups, superuser flags, permissions, passwords)."""

import pytest
from django.contrib.auth.models import Group

from soc2hub.admin_rights import security_admin_rights_ensure
from soc2hub.models import ActivityLog, User
from tests.factories import Role, UserFactory


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def security(personas):
    security_admin_rights_ensure()
    return personas["security"]


def test_security_opens_the_admin_and_the_programme_in_it(security, client_for):
    client = client_for(security)
    index = client.get("/admin/")
    assert index.status_code == 200
    html = index.content.decode()
    for model in ("/admin/controls/control/", "/admin/soc2hub/team/", "/admin/nhi/nonhumanidentity/",
                  "/admin/django_celery_beat/periodictask/", "/admin/axes/accessattempt/"):
        assert model in html, model
        assert client.get(model).status_code == 200, model
    assert "/admin/auth/group/" not in html


@pytest.mark.parametrize("path", ["/admin/auth/group/", "/admin/auth/group/add/", "/admin/soc2hub/user/add/"])
def test_security_cannot_manage_groups_or_create_accounts(security, client_for, path):
    assert client_for(security).get(path).status_code == 403


def test_security_edits_a_person_without_superuser_groups_or_permission_fields(security, personas, client_for):
    owner = personas["owner"]
    page = client_for(security).get(f"/admin/soc2hub/user/{owner.pk}/change/").content.decode()
    assert 'name="is_active"' in page and 'name="email"' in page
    for field in ("is_superuser", "is_staff", "groups", "user_permissions"):
        assert f'name="{field}"' not in page, field
    assert "../password/" not in page


def test_a_posted_superuser_flag_or_group_from_security_is_ignored(security, personas, client_for):
    owner = personas["owner"]
    response = client_for(security).post(f"/admin/soc2hub/user/{owner.pk}/change/", {
        "username": owner.username, "first_name": "Harriet", "last_name": owner.last_name, "email": owner.email,
        "is_active": "on", "is_superuser": "on", "is_staff": "on",
        "groups": [Group.objects.get(name=Role.SECURITY).pk], "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    owner.refresh_from_db()
    assert owner.first_name == "Harriet"
    assert not owner.is_superuser and not owner.is_staff and not owner.is_security


def test_security_cannot_change_anyones_password_or_edit_a_superuser(security, personas, root, client_for):
    client = client_for(security)
    owner = personas["owner"]
    before = User.objects.get(pk=owner.pk).password
    response = client.post(f"/admin/soc2hub/user/{owner.pk}/password/",
                           {"password1": "a brand new secret 123", "password2": "a brand new secret 123"})
    assert response.status_code == 403
    assert User.objects.get(pk=owner.pk).password == before
    view = client.get(f"/admin/soc2hub/user/{root.pk}/change/")  # read-only at most
    assert view.status_code in (200, 403) and 'name="_save"' not in view.content.decode()
    assert client.post(f"/admin/soc2hub/user/{root.pk}/change/", {"is_active": ""}).status_code == 403
    root.refresh_from_db()
    assert root.is_active and root.is_superuser


def test_the_setup_superuser_keeps_every_power(root, personas, client_for):
    client = client_for(root)
    owner = personas["owner"]
    assert client.get("/admin/auth/group/").status_code == 200
    page = client.get(f"/admin/soc2hub/user/{owner.pk}/change/").content.decode()
    assert 'name="is_superuser"' in page and 'name="groups"' in page


@pytest.mark.parametrize("who", ["owner", "other_team", "leadership", "auditor"])
def test_nobody_else_opens_the_admin(personas, client_for, who):
    response = client_for(personas[who]).get("/admin/")
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "/admin/login/" in response["Location"] or "/accounts/login/" in response["Location"]


def test_deactivating_a_leaver_in_the_admin_is_logged(security, personas, client_for):
    owner = personas["owner"]
    client_for(security).post(f"/admin/soc2hub/user/{owner.pk}/change/", {
        "username": owner.username, "first_name": owner.first_name, "last_name": owner.last_name,
        "email": owner.email, "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    owner.refresh_from_db()
    assert not owner.is_active
    assert ActivityLog.objects.filter(verb="admin.changed", object_id=str(owner.pk)).exists()


def test_security_changes_when_scheduled_work_runs_but_not_what_runs(security, client_for, root):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="soc2hub: daily jobs")
    page = client_for(security).get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/").content.decode()
    for field in ("task", "args", "kwargs", "enabled"):
        assert f'name="{field}"' not in page, field
    assert 'name="crontab"' in page
    # A crafted post naming another task (or args) changes neither.
    client_for(security).post(f"/admin/django_celery_beat/periodictask/{task.pk}/change/", {
        "regtask": "soc2hub.tasks.ping", "task": "soc2hub.tasks.ping", "args": '["x"]', "crontab": task.crontab_id,
        "name": "renamed", "enabled": ""})
    task.refresh_from_db()
    assert (task.task, task.args, task.name, task.enabled) == (
        "soc2hub.tasks.run_daily_jobs", "[]", "soc2hub: daily jobs", True)
    client_for(security).post("/admin/django_celery_beat/periodictask/", {
        "action": "disable_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.enabled and task.task == "soc2hub.tasks.run_daily_jobs"
    assert 'name="task"' in client_for(root).get(
        f"/admin/django_celery_beat/periodictask/{task.pk}/change/").content.decode()
