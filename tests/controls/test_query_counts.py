"""Lists stay flat as data grows: the same number of queries for 10 controls as for 400."""

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from controls.models import OWNER_ROLES, Control, Criterion

URLS = [
    "/",
    "/matrix/",
    "/matrix/?flag=unassigned&team=hr",
    "/criteria/CC6.1/",
    "/controls/",
    "/controls/?page=2",
    "/controls/?team=hr&ordering=-ref&category=security",
    "/teams/",
    "/teams/hr/",
    "/api/v1/controls/",
    "/api/v1/controls/?team=hr&ordering=-ref",
    "/api/v1/criteria/",
    "/api/v1/criteria/?flag=security_only",
    "/api/v1/teams/",
]


def grow_to(total: int, teams: dict, rng: random.Random) -> None:
    """Add controls until there are ``total``, each mapped to 1-3 criteria, with random owners
    (sometimes none), and reshuffle criterion owners.

    A few rows are pinned so that every URL has something to show at both sizes: an empty
    result skips queries (no prefetch, no page fetch) and would hide a real difference."""
    criteria = list(Criterion.objects.all())
    owners = [*teams.values(), None]
    start = Control.objects.count()
    new = Control.objects.bulk_create([
        Control(
            ref=f"QC-{i:04d}", name=f"Query-count control {i}", description="Bulk made.",
            **{role: rng.choice(owners) for role in OWNER_ROLES},
        )
        for i in range(start, total)
    ])
    links = {(control.pk, criterion.pk) for control in new for criterion in rng.sample(criteria, rng.randint(1, 3))}
    if start == 0:
        pinned = new[0]
        pinned.business_owner, pinned.control_owner, pinned.evidence_owner = teams["hr"], teams["hr"], None
        pinned.save()
        links.add((pinned.pk, next(c.pk for c in criteria if c.code == "CC6.1")))
    Control.criteria.through.objects.bulk_create([
        Control.criteria.through(control_id=control_id, criterion_id=criterion_id) for control_id, criterion_id in links
    ])
    pinned_owners = {
        "CC6.1": (teams["security"],) * 3,  # security-only
        "CC6.2": (teams["hr"], None, None),  # unassigned, owned by HR
    }
    for criterion in criteria:
        chosen = pinned_owners.get(criterion.code) or [rng.choice(owners) for _ in OWNER_ROLES]
        for role, team in zip(OWNER_ROLES, chosen):
            setattr(criterion, role, team)
    Criterion.objects.bulk_update(criteria, list(OWNER_ROLES))


def count_queries(client, url) -> int:
    client.get(url)  # warm per-process caches (content types, ...) so both sizes start alike
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize("persona", ["security", "owner"])
def test_queries_do_not_grow_with_controls(catalog, teams, personas, client_for, persona):
    rng = random.Random(2025)
    client = client_for(personas[persona])

    grow_to(10, teams, rng)
    small = {url: count_queries(client, url) for url in URLS}
    grow_to(400, teams, rng)
    assert Control.objects.count() == 400
    large = {url: count_queries(client, url) for url in URLS}

    assert large == small
    # Flat, and small: a page is a handful of queries, not one per row.
    assert max(small.values()) <= 16, small


def test_controls_page_really_renders_the_rows(catalog, teams, personas, client_for):
    """Guards the test above: at 400 controls the pages do show many rows (so a flat count is
    not just an empty page)."""
    grow_to(400, teams, random.Random(1))
    client = client_for(personas["owner"])
    assert client.get("/controls/").content.decode().count('href="/controls/QC-') == 25
    hr = teams["hr"]
    owned = Control.objects.owned_by(hr).count()
    assert owned > 50
    page = client.get("/teams/hr/").content.decode()
    assert page.count('href="/controls/QC-') == owned
    assert len(client.get("/api/v1/controls/").json()["results"]) == 50


def test_matrix_query_count_is_pinned(catalog, teams, personas, django_assert_max_num_queries, client_for):
    grow_to(50, teams, random.Random(7))
    client = client_for(personas["security"])
    client.get("/matrix/")
    with django_assert_max_num_queries(10):
        assert client.get("/matrix/").status_code == 200
