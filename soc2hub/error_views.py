"""What people see when a request goes wrong: a branded page that says what happened and where
to go, or JSON under /api/. Nothing here shows a URL map, a setting or an exception's text;
the one exception is a refusal's reason, which soc2hub's permission table writes for people.

Wired as handler400/403/404/500 in soc2hub.urls and CSRF_FAILURE_VIEW in settings. The 400
and 500 pages render without the request's context (no user, no database query): they must
work when the request itself, or the database, is what failed.
"""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.template.response import TemplateResponse
from django.views.decorators.csrf import requires_csrf_token

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def _json(detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _bare_page(template_name: str, status: int) -> HttpResponse:
    """A page from a template that needs nothing from the request."""
    return HttpResponse(loader.get_template(template_name).render(), status=status)


def bad_request(request, exception=None):
    if _is_api(request):
        return _json("Bad request.", 400)
    return _bare_page("400.html", 400)


@requires_csrf_token
def permission_denied(request, exception=None):
    if _is_api(request):
        return _json("You do not have permission to perform this action.", 403)
    reason = str(exception) if isinstance(exception, PermissionDenied) else ""
    return TemplateResponse(request, "403.html", {"exception": reason}, status=403).render()


@requires_csrf_token
def page_not_found(request, exception=None):
    if _is_api(request):
        return _json("Not found.", 404)
    return TemplateResponse(request, "404.html", status=404).render()


def server_error(request):
    if _is_api(request):
        return _json("Server error. It has been logged.", 500)
    return _bare_page("500.html", 500)


@requires_csrf_token
def csrf_failure(request, reason=""):
    """Django refused a form post without a valid CSRF token: usually a page left open past a
    sign-out or a cookie the browser did not send. ``reason`` is for developers: Django's
    CSRF middleware has logged it (django.security.csrf); it is never shown."""
    if _is_api(request):
        return _json("CSRF check failed. Reload the page and try again.", 403)
    return TemplateResponse(request, "403_csrf.html", status=403).render()
