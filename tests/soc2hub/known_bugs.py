"""Bugs the tests found in app code and that are not fixed yet, as ``xfail`` markers.

Each marker is strict: once the bug is fixed the marked tests pass, pytest reports them as
XPASS(strict) failures, and the marker (and this entry) must be removed.
"""

import pytest
from django.conf import settings
from django.db import NotSupportedError

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# controls/services.py:45 (criterion_set_owners) and :50 (control_set_owners) lock the row with
# ``select_for_update().select_related(*OWNER_ROLES)``. The owner foreign keys are nullable, so
# the query LEFT OUTER JOINs soc2hub_team, and PostgreSQL refuses FOR UPDATE on the nullable
# side of an outer join. Every owner change (matrix page, htmx row, API PATCH) is a 500 there;
# SQLite ignores FOR UPDATE, which is why it only shows on PostgreSQL.
# Fix: ``select_for_update(of=("self",))`` (keeps the select_related and locks only the row).
OWNER_CHANGE_FAILS_ON_POSTGRES = pytest.mark.xfail(
    ON_POSTGRES,
    reason="BUG: controls/services.py:45 select_for_update() + select_related of nullable owner FKs "
    "-> PostgreSQL 'FOR UPDATE cannot be applied to the nullable side of an outer join'; "
    "use select_for_update(of=('self',))",
    raises=NotSupportedError,
    strict=True,
)
