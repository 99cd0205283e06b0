"""Building blocks for non-human identity tests: identities written straight to the table (as
an import or seed data would), the people around them, and the mail they receive.

HR owns most identities here: ``owner`` (Harriet) is a member, ``hr_lead`` (Hal) leads it;
``eng`` (Erin) is in Engineering, led by ``eng_lead`` (Emil); ``security`` (Sam) runs
campaigns; ``other_team`` (Olivia, Legal) owns nothing of HR's. Import the fixtures a module
uses:
``from tests.nhi.factories import people_fixture  # noqa: F401``
(``people_fixture`` is the ``people`` fixture, named apart so test arguments do not shadow it).
"""

import datetime as dt
import itertools

import pytest
from django.core import mail
from django.utils import timezone

from nhi.models import DEFAULT_ROTATION_DAYS, NhiKind, NonHumanIdentity
from soc2hub.models import ActivityLog, Notification
from tests.factories import member_of

_serial = itertools.count(1)


def today() -> dt.date:
    return timezone.localdate()


def days(n: int) -> dt.date:
    """``n`` days from today (negative: ago)."""
    return today() + dt.timedelta(days=n)


def make_nhi(team, name=None, *, kind=NhiKind.ACCESS_KEY, **fields) -> NonHumanIdentity:
    """A saved identity owned by ``team`` (None: no owner team). Dates default to a key made
    ten days ago and rotated then, so it carries no state unless the test gives it one."""
    n = next(_serial)
    fields.setdefault("rotation_interval_days", DEFAULT_ROTATION_DAYS.get(kind))
    fields.setdefault("created_on", days(-10))
    fields.setdefault("last_rotated_on", days(-10))
    fields.setdefault("last_used_on", days(-1))
    return NonHumanIdentity.objects.create(
        name=name or f"{kind}-{n}", kind=kind, provider=fields.pop("provider", "AWS"),
        external_id=fields.pop("external_id", f"ext-{n}"), owner_team=team, **fields,
    )


def logs(verb: str | None = None, obj=None) -> list[ActivityLog]:
    qs = ActivityLog.objects.order_by("pk")
    if verb:
        qs = qs.filter(verb=verb)
    if obj is not None:
        qs = qs.for_object(obj)
    return list(qs)


def notified(kind: str) -> list[str]:
    """Usernames notified with ``kind``, one entry per notification, sorted."""
    return sorted(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))


def mail_to(subject_part: str) -> list[str]:
    """Recipients of the e-mails whose subject contains ``subject_part``, one per message."""
    return sorted(address for m in mail.outbox if subject_part in m.subject for address in m.to)


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(name="people")
def people_fixture(teams, personas):
    hr, eng = teams["hr"], teams["engineering"]
    extra = {
        "hr_lead": member_of(hr, username="hal_hr_lead"),
        "eng": member_of(eng, username="erin_eng"),
        "eng_lead": member_of(eng, username="emil_eng_lead"),
    }
    hr.lead, eng.lead = extra["hr_lead"], extra["eng_lead"]
    hr.save(update_fields=["lead"])
    eng.save(update_fields=["lead"])
    return {**personas, **extra}
