"""The inventory stays flat as it grows: the same number of queries for 100 identities as for
2,000, on the page (with and without filters), the API and the visibility summary; and the
state filters are SQL, so the list the page shows is exactly the rows whose state matches."""

import datetime as dt
import random
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from nhi.models import (
    DEFAULT_ROTATION_DAYS,
    LIVE_STATUSES,
    Environment,
    NhiKind,
    NhiStatus,
    NonHumanIdentity,
    rotation_due,
)
from tests.factories import ControlFactory, member_of
from tests.nhi.factories import today

pytestmark = pytest.mark.django_db

URLS = [
    "/nhi/",
    "/nhi/?page=2",
    "/nhi/?overdue=true",
    "/nhi/?overdue=true&team=hr",
    "/nhi/?q=access&kind=access_key&ordering=-last_rotated",
    "/nhi/?stale=true&environment=production&ordering=team",
    "/nhi/?orphaned=true&never_rotated=false&expiring=false",
    "/nhi/summary/",
    "/api/v1/nhis/",
    "/api/v1/nhis/?overdue=true&team=hr",
    "/api/v1/nhis/?q=access&ordering=-name",
]
KINDS = [kind for kind, _ in NhiKind.choices]
ENVIRONMENTS = [env for env, _ in Environment.choices]


def grow_to(total: int, teams: dict, people: list, controls: list, rng: random.Random) -> list[NonHumanIdentity]:
    """Add identities until there are ``total``, spread over teams (some none), kinds,
    environments and states, written with bulk_create as an import would (so rotation_due_on is
    computed here, as save() would). Names sort the same under every collation."""
    owners = [teams["hr"], teams["legal"], teams["engineering"], teams["finance"], None]
    start = NonHumanIdentity.objects.count()
    rows = []
    for n in range(start, total):
        kind = KINDS[n % len(KINDS)]
        # The first rows pin one of each state to HR so every filtered URL shows rows at both sizes.
        team = teams["hr"] if n < 10 else rng.choices(owners, weights=[3, 2, 3, 2, 1])[0]
        interval = DEFAULT_ROTATION_DAYS.get(kind)
        created = today() - dt.timedelta(days=rng.randint(50, 900))
        rotated = None if rng.random() < 0.15 else created + dt.timedelta(days=rng.randint(0, (today() - created).days))
        rows.append(NonHumanIdentity(
            name=f"n{n:05d}-{kind}", kind=kind, provider=rng.choice(["AWS", "GitHub", "Okta", "Kubernetes"]),
            environment=ENVIRONMENTS[n % len(ENVIRONMENTS)] if n >= 10 else "production",
            external_id=f"ext-{n}", owner_team=team,
            technical_owner=rng.choice(people) if rng.random() < 0.5 else None,
            created_on=created, last_rotated_on=rotated,
            last_used_on=None if rng.random() < 0.1 else today() - dt.timedelta(days=rng.randint(0, 120)),
            rotation_interval_days=interval, rotation_due_on=rotation_due(rotated, interval),
            rotation_required=rng.random() < 0.03,
            expires_on=today() + dt.timedelta(days=rng.randint(-10, 400)) if kind == NhiKind.CERTIFICATE else None,
            status=rng.choices([NhiStatus.ACTIVE, NhiStatus.DISABLED, NhiStatus.REVOKED], weights=[85, 5, 10])[0]
            if n >= 10 else NhiStatus.ACTIVE,
            has_admin_access=rng.random() < 0.1, owasp_tags=["NHI7:2025"] if rng.random() < 0.2 else [],
        ))
    created_rows = NonHumanIdentity.objects.bulk_create(rows, batch_size=500)
    links = NonHumanIdentity.controls.through
    links.objects.bulk_create([links(nonhumanidentity_id=nhi.pk, control_id=control.pk)
                               for nhi in created_rows for control in rng.sample(controls, rng.randint(0, 2))])
    return created_rows


def expected_overdue(nhi: NonHumanIdentity, on: dt.date) -> bool:
    """The rule, restated in Python from the issue, independent of the SQL under test."""
    if nhi.status not in LIVE_STATUSES:
        return False
    if nhi.rotation_required:
        return True
    if nhi.rotation_interval_days is None:
        return False
    return nhi.last_rotated_on is None or nhi.last_rotated_on + dt.timedelta(days=nhi.rotation_interval_days) < on


@pytest.fixture
def inventory_world(teams, personas):
    people = [personas["owner"], member_of(teams["engineering"], username="erin_eng"),
              member_of(teams["hr"], username="lee_leaver", is_active=False)]
    controls = [ControlFactory() for _ in range(5)]
    rng = random.Random(2026)
    return lambda total: grow_to(total, teams, people, controls, rng)


def count_queries(client, url) -> int:
    client.get(url)  # warm per-process caches (content types, sessions) so both sizes start alike
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def shown(client, url) -> int:
    response = client.get(url)
    if url.startswith("/api/"):
        return len(response.json()["results"])
    if "page" in (response.context or {}):
        return len(response.context["page"].object_list)
    return response.context["summary"]["overall"]["total"]


@pytest.mark.parametrize("persona", ["security", "owner", "leadership"])
def test_queries_do_not_grow_with_identities(inventory_world, personas, client_for, persona):
    client = client_for(personas[persona])

    inventory_world(100)
    small = {url: count_queries(client, url) for url in URLS}
    assert all(shown(client, url) for url in URLS), {url: shown(client, url) for url in URLS}
    inventory_world(2_000)
    assert NonHumanIdentity.objects.count() == 2_000
    large = {url: count_queries(client, url) for url in URLS}

    assert large == small
    # Flat, and small: a page is a handful of queries, never one per row.
    assert max(small.values()) <= 16, small


MAIN_LIST = re.compile(r'FROM "nhi_nonhumanidentity".*\bLIMIT\b', re.DOTALL)


@pytest.mark.parametrize("persona, team", [("security", None), ("owner", "hr")])
def test_the_overdue_filter_is_sql_and_shows_exactly_the_overdue_rows(inventory_world, personas, teams, client_for,
                                                                      persona, team):
    rows = inventory_world(2_000)
    visible = [nhi for nhi in rows if team is None or (nhi.owner_team and nhi.owner_team.slug == team)]
    overdue = sorted(nhi.name for nhi in visible if expected_overdue(nhi, today()))
    assert 100 < len(overdue) < len(visible)
    client = client_for(personas[persona])

    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/nhi/?overdue=true")

    page = response.context["page"]
    assert page.paginator.count == len(overdue)
    assert [n.name for n in page.object_list] == overdue[:50]
    assert all(n.is_rotation_overdue for n in page.object_list)
    [listing] = [q["sql"] for q in ctx.captured_queries if MAIN_LIST.search(q["sql"]) and "CASE WHEN" in q["sql"]]
    where = listing.split(" WHERE ", 1)[1]
    # The state is an annotation the database filters on, not a list of ids worked out in Python.
    assert "CASE WHEN" in where and '"rotation_due_on" <' in where
    assert len(listing) < 4_000, "an id list in the query: the filter was done in Python"
    assert not re.search(r"IN \((?:%s|\d+)(?:, (?:%s|\d+)){50,}\)", listing)
    # And nothing reads the whole table to find them.
    whole = [q["sql"] for q in ctx.captured_queries
             if 'FROM "nhi_nonhumanidentity"' in q["sql"] and "LIMIT" not in q["sql"] and "COUNT(" not in q["sql"]
             and "GROUP BY" not in q["sql"]]
    assert whole == []

    api = client.get("/api/v1/nhis/?overdue=true").json()
    assert api["count"] == len(overdue)
    assert [row["name"] for row in api["results"]] == overdue[:50]
