"""soc2hub's own URLs and error handlers, plus views that fail on purpose, mounted once for
pages and once under /api/ (tests only)."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpResponse
from django.urls import include, path

# The handlers under test: Django looks them up in the root URLconf.
from soc2hub.urls import handler400, handler403, handler404, handler500  # noqa: F401
from soc2hub.urls import urlpatterns as soc2hub_urlpatterns

SECRET_DETAIL = "internal detail: /srv/soc2hub/soc2hub/settings.py DATABASE_URL=postgres://root:hunter2@db"


def raises_server_error(request):
    raise RuntimeError(SECRET_DETAIL)


def raises_bad_request(request):
    raise SuspiciousOperation(SECRET_DETAIL)


def raises_permission_denied(request):
    raise PermissionDenied("Only Security may open this.")


def accepts_post(request):
    return HttpResponse("accepted")


failing = [
    path("boom/", raises_server_error),
    path("bad/", raises_bad_request),
    path("forbidden/", raises_permission_denied),
    path("form/", accepts_post),
]
urlpatterns = [
    path("test-errors/", include(failing)),
    path("api/test-errors/", include(failing)),
    *soc2hub_urlpatterns,
]
