"""Derived state, computed in SQL by ``NonHumanIdentity.objects.with_state(today)``: every check
here filters on the annotations, the way the inventory, its export and the daily job do."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from nhi import services
from nhi.models import NhiKind, NhiStatus, NonHumanIdentity
from tests.nhi.factories import days, make_nhi, people_fixture, today  # noqa: F401

FLAGS = ("is_never_rotated", "is_rotation_overdue", "is_expiring_soon", "is_stale", "is_orphaned")


def flagged(flag: str, on: dt.date | None = None) -> set[str]:
    """Names of the identities whose ``flag`` is set, filtered in SQL."""
    return set(NonHumanIdentity.objects.with_state(on or today()).filter(**{flag: True})
               .values_list("name", flat=True))


def state_of(nhi, on: dt.date | None = None) -> set[str]:
    return {flag for flag in FLAGS if nhi.name in flagged(flag, on)}


# --- rotation -----------------------------------------------------------------------------------

def test_never_rotated_is_overdue_when_the_kind_has_a_policy(teams):
    make_nhi(teams["hr"], "never-rotated-key", last_rotated_on=None)
    make_nhi(teams["hr"], "rotated-key")

    assert flagged("is_never_rotated") == {"never-rotated-key"}
    assert flagged("is_rotation_overdue") == {"never-rotated-key"}


def test_no_interval_means_never_overdue_on_a_schedule(teams):
    make_nhi(teams["hr"], "no-policy", kind=NhiKind.OTHER, rotation_interval_days=None, last_rotated_on=None)
    make_nhi(teams["hr"], "no-policy-rotated-long-ago", kind=NhiKind.OTHER, rotation_interval_days=None,
             created_on=days(-2000), last_rotated_on=days(-1500))

    assert flagged("is_never_rotated") == {"no-policy"}
    assert flagged("is_rotation_overdue") == set()
    assert NonHumanIdentity.objects.get(name="no-policy").rotation_due_on is None


def test_no_interval_is_still_overdue_when_a_rotation_is_required(teams):
    """A transfer or offboarding asks for a rotation whatever the schedule: the previous
    holder may still know the secret."""
    make_nhi(teams["hr"], "no-policy", kind=NhiKind.OTHER, rotation_interval_days=None, rotation_required=True)

    assert flagged("is_rotation_overdue") == {"no-policy"}


def test_overdue_from_the_day_after_rotation_falls_due(teams):
    nhi = make_nhi(teams["hr"], "key", created_on=days(-200), last_rotated_on=days(-90), rotation_interval_days=90)

    assert nhi.rotation_due_on == today()
    assert "is_rotation_overdue" not in state_of(nhi)
    assert "is_rotation_overdue" in state_of(nhi, days(1))
    assert "is_rotation_overdue" not in state_of(nhi, days(-1))


def test_due_date_follows_the_interval_when_it_changes(teams):
    nhi = make_nhi(teams["hr"], "key", created_on=days(-400), last_rotated_on=days(-100), rotation_interval_days=180)
    assert "is_rotation_overdue" not in state_of(nhi)

    nhi.rotation_interval_days = 90
    nhi.save()

    assert nhi.rotation_due_on == days(-10)
    assert "is_rotation_overdue" in state_of(nhi)


def test_rotation_required_after_a_transfer_until_rotated(teams, people):
    nhi = make_nhi(teams["hr"], "freshly-rotated", last_rotated_on=today())
    assert state_of(nhi) == set()

    services.nhi_transfer(nhi=nhi, actor=people["security"], team=teams["engineering"],
                          technical_owner=people["eng"])
    assert state_of(nhi) == {"is_rotation_overdue"}

    services.nhi_rotate(nhi=nhi, actor=people["eng"], evidence_link="https://example.com/change/1")
    assert state_of(nhi) == set()


# --- future dates ---------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["created_on", "last_used_on", "last_rotated_on"])
def test_services_refuse_future_dates_on_create(teams, people, field):
    with pytest.raises(ValidationError) as refused:
        services.nhi_create(actor=people["owner"], name="tomorrow's key", kind=NhiKind.ACCESS_KEY, provider="AWS",
                            external_id="AKIA-FUTURE", owner_team=teams["hr"], **{field: days(1)})

    assert "future" in str(refused.value.message_dict[field])
    assert not NonHumanIdentity.objects.exists()


@pytest.mark.parametrize("field", ["created_on", "last_used_on", "last_rotated_on"])
def test_services_refuse_future_dates_on_update(teams, people, field):
    nhi = make_nhi(teams["hr"], "key")
    before = NonHumanIdentity.objects.filter(pk=nhi.pk).values().get()

    with pytest.raises(ValidationError):
        services.nhi_update(nhi=nhi, actor=people["owner"], **{field: days(3)})

    assert NonHumanIdentity.objects.filter(pk=nhi.pk).values().get() == before


def test_rotation_dates_in_the_future_or_before_creation_are_refused(teams, people):
    nhi = make_nhi(teams["hr"], "key", created_on=days(-30), last_rotated_on=days(-30))

    with pytest.raises(ValidationError, match="future"):
        services.nhi_rotate(nhi=nhi, actor=people["owner"], rotated_on=days(1), evidence_link="https://x.test/1")
    with pytest.raises(ValidationError, match="before the identity was created"):
        services.nhi_rotate(nhi=nhi, actor=people["owner"], rotated_on=days(-31), evidence_link="https://x.test/1")
    with pytest.raises(ValidationError, match="before it was created"):
        services.nhi_create(actor=people["owner"], name="k", kind=NhiKind.ACCESS_KEY, provider="AWS",
                            external_id="AKIA-1", owner_team=teams["hr"], created_on=days(-5),
                            last_rotated_on=days(-6))
    nhi.refresh_from_db()
    assert nhi.last_rotated_on == days(-30) and not nhi.rotations.exists()


def test_the_kind_sets_the_default_interval_and_never_rotated_shows_at_once(teams, people):
    key = services.nhi_create(actor=people["owner"], name="deploy key", kind=NhiKind.ACCESS_KEY, provider="AWS",
                              external_id="AKIA-NEW", owner_team=teams["hr"], created_on=today())
    other = services.nhi_create(actor=people["owner"], name="misc", kind=NhiKind.OTHER, provider="Vault",
                                external_id="misc-1", owner_team=teams["hr"])

    assert (key.rotation_interval_days, other.rotation_interval_days) == (90, None)
    assert flagged("is_never_rotated") == {"deploy key", "misc"}
    assert flagged("is_rotation_overdue") == {"deploy key"}


# --- staleness ----------------------------------------------------------------------------------

def test_stale_by_last_use(teams):
    make_nhi(teams["hr"], "unused-46-days", created_on=days(-400), last_used_on=days(-46))
    make_nhi(teams["hr"], "unused-45-days", created_on=days(-400), last_used_on=days(-45))
    make_nhi(teams["hr"], "used-yesterday", created_on=days(-400), last_used_on=days(-1))

    assert flagged("is_stale") == {"unused-46-days"}


def test_never_used_is_stale_by_its_creation_date(teams):
    make_nhi(teams["hr"], "never-used-old", created_on=days(-46), last_rotated_on=days(-46), last_used_on=None)
    make_nhi(teams["hr"], "never-used-new", created_on=days(-10), last_used_on=None)
    make_nhi(teams["hr"], "never-used-no-dates", created_on=None, last_rotated_on=None, last_used_on=None)

    assert flagged("is_stale") == {"never-used-old"}


def test_the_stale_threshold_comes_from_settings(teams, settings):
    make_nhi(teams["hr"], "unused-20-days", created_on=days(-400), last_used_on=days(-20))
    assert flagged("is_stale") == set()

    settings.NHI_STALE_DAYS = 14
    assert flagged("is_stale") == {"unused-20-days"}


# --- expiry ---------------------------------------------------------------------------------------

def test_expiring_window_includes_already_expired(teams, settings):
    assert settings.NHI_EXPIRING_DAYS == 30
    make_nhi(teams["hr"], "expires-in-30", kind=NhiKind.CERTIFICATE, expires_on=days(30))
    make_nhi(teams["hr"], "expires-in-31", kind=NhiKind.CERTIFICATE, expires_on=days(31))
    make_nhi(teams["hr"], "expired-yesterday", kind=NhiKind.CERTIFICATE, expires_on=days(-1))
    make_nhi(teams["hr"], "no-expiry", kind=NhiKind.CERTIFICATE, expires_on=None)

    assert flagged("is_expiring_soon") == {"expires-in-30", "expired-yesterday"}
    assert flagged("is_expiring_soon", days(1)) == {"expires-in-30", "expires-in-31", "expired-yesterday"}


# --- orphans ------------------------------------------------------------------------------------

def test_orphaned_without_owner_team_or_when_the_owner_left_or_transfer_is_required(teams, people):
    leaver = people["owner"]
    make_nhi(None, "no-team")
    make_nhi(teams["hr"], "owner-left", technical_owner=leaver)
    make_nhi(teams["hr"], "to-transfer", transfer_required=True)
    make_nhi(teams["hr"], "owned", technical_owner=people["hr_lead"])
    make_nhi(None, "disabled-no-team", status=NhiStatus.DISABLED)
    leaver.is_active = False
    leaver.save(update_fields=["is_active"])

    assert flagged("is_orphaned") == {"no-team", "owner-left", "to-transfer"}


def test_offboarding_makes_the_persons_identities_orphaned(teams, people):
    make_nhi(teams["hr"], "harriet's key", technical_owner=people["owner"])
    assert flagged("is_orphaned") == set()

    services.user_offboard(user=people["owner"], actor=people["security"])

    assert flagged("is_orphaned") == {"harriet's key"}
    assert flagged("is_rotation_overdue") == {"harriet's key"}


# --- finished identities ------------------------------------------------------------------------

@pytest.mark.parametrize("status", [NhiStatus.REVOKED, NhiStatus.DECOMMISSIONED])
def test_revoked_and_decommissioned_identities_carry_no_state(teams, people, status):
    """Everything about it is bad, but it is done: no list, alert or summary should count it."""
    people["owner"].is_active = False
    people["owner"].save(update_fields=["is_active"])
    make_nhi(None, "done", status=status, created_on=days(-900), last_rotated_on=None, last_used_on=days(-800),
             expires_on=days(-5), rotation_required=True, transfer_required=True, technical_owner=people["owner"])

    assert all(flagged(flag) == set() for flag in FLAGS)
    assert NonHumanIdentity.objects.live().count() == 0


def test_disabled_identities_still_carry_rotation_expiry_and_staleness(teams):
    make_nhi(teams["hr"], "disabled", status=NhiStatus.DISABLED, created_on=days(-900), last_rotated_on=None,
             last_used_on=days(-800), expires_on=days(5))

    assert {flag for flag in FLAGS if flagged(flag)} == {"is_never_rotated", "is_rotation_overdue",
                                                          "is_expiring_soon", "is_stale"}


def test_state_filters_are_one_sql_query_whatever_the_size(teams):
    for n in range(30):
        make_nhi(teams["hr"], f"key-{n}", last_rotated_on=None if n % 2 else days(-10))

    with CaptureQueriesContext(connection) as queries:
        overdue = NonHumanIdentity.objects.with_state(today()).filter(is_rotation_overdue=True, is_stale=False).count()

    assert overdue == 15
    assert len(queries) == 1
    assert "CASE WHEN" in queries[0]["sql"].upper()
