"""Deactivating a person runs every app's leaving steps, whoever deactivates them: the core
(``soc2hub.services``) knows the steps only as registered callables (nhi registers its own)."""

from django.contrib.admin.sites import AdminSite
from django.db import transaction
from django.test import RequestFactory

from nhi.models import NonHumanIdentity
from soc2hub.admin import UserAdmin
from soc2hub.models import ActivityLog, User
from soc2hub.services import user_deactivate
from tests.nhi.factories import make_nhi, notified


def test_deactivating_in_the_admin_flags_the_persons_identities(teams, personas):
    leaver = personas["owner"]
    make_nhi(teams["hr"], "payroll-bot", technical_owner=leaver)
    request = RequestFactory().post("/admin/")
    request.user = personas["security"]
    leaver.is_active = False

    with transaction.atomic():  # as the admin's change view does
        UserAdmin(User, AdminSite()).save_model(request, leaver, form=None, change=True)

    assert NonHumanIdentity.objects.get().transfer_required
    assert notified("nhi.owner_left") == ["sam_security"]


def test_user_deactivate_records_why_and_does_nothing_twice(teams, personas):
    leaver = personas["owner"]
    make_nhi(teams["hr"], "payroll-bot", technical_owner=leaver)

    assert user_deactivate(user=leaver, actor=personas["security"], reason="Harriet left on Friday.")
    assert not user_deactivate(user=leaver, actor=personas["security"], reason="Again.")

    leaver.refresh_from_db()
    assert not leaver.is_active
    assert list(ActivityLog.objects.filter(verb="user.deactivated").values_list("message", flat=True)) == [
        "Harriet left on Friday."]
    assert ActivityLog.objects.filter(verb="nhi.owner_left").count() == 1
