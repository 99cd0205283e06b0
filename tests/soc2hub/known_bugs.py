"""Bugs the tests found in app code and that are not fixed yet, as ``xfail`` markers.

Each marker is strict: once the bug is fixed the marked tests pass, pytest reports them as
XPASS(strict) failures, and the marker (and its entry here) must be removed.
"""

import pytest
from django.conf import settings

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# BUG: soc2hub/api.py:37 ActivityLogViewSet answers 200 with an empty list to people who may not
# read the log, while /activity/ answers 403 to the same people; the API should give the same
# answer as the page. Fix: a permission_actions entry or a has_permission check that calls
# permissions.require(user, VIEW, ActivityLog) for list/retrieve.
ACTIVITY_API_200_NOT_403 = pytest.mark.xfail(
    reason="BUG: soc2hub/api.py:37 /api/v1/activity/ gives 200 [] instead of 403 to people who may not read "
    "the log (the page /activity/ gives 403)", strict=True,
)
# BUG: drf-spectacular serves the schema and docs with SERVE_PERMISSIONS=AllowAny by default, so an
# anonymous visitor reads the whole API surface; every other endpoint needs a sign-in.
# Fix: SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] = ["rest_framework.permissions.IsAuthenticated"].
SCHEMA_PUBLIC = pytest.mark.xfail(
    reason="BUG: soc2hub/settings.py:216 SPECTACULAR_SETTINGS lacks SERVE_PERMISSIONS, so /api/v1/schema/ and "
    "/api/v1/docs/ answer 200 to anonymous visitors", strict=True,
)
