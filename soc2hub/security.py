"""The Content-Security-Policy on every response (policy: CONTENT_SECURITY_POLICY in settings)."""

from urllib.parse import urlsplit

from csp.constants import HEADER
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings


def origin_of(url: str) -> str | None:
    """``https://idp.example.com`` from ``https://idp.example.com/realms/x``; None for no URL."""
    parts = urlsplit(url or "")
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, plus:

    - every response's policy carries a fresh nonce, used or not, so no page ever goes out
      with a policy that a template could not satisfy (and a test can check one rule);
    - the directives keep the settings' order (django-csp's depends on hash seeds), so the
      header reads the same on every response and every server;
    - form-action allows the single sign-on issuer (``OIDC_SERVER_URL``): signing in posts a
      form whose answer redirects to the identity provider, which form-action governs too.
      Read per response, so a test that overrides the setting gets the matching policy.
    """

    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        if not report_only and hasattr(request, "csp_nonce"):
            str(request.csp_nonce)  # makes the nonce, if no template asked for it
        parts = super().get_policy_parts(request, response, report_only)
        issuer = origin_of(getattr(settings, "OIDC_SERVER_URL", ""))
        if issuer and not report_only:
            update = dict(parts.update or {})
            allowed = update.get("form-action") or []
            update["form-action"] = [*([allowed] if isinstance(allowed, str) else allowed), issuer]
            parts.update = update
        return parts

    def process_response(self, request, response):
        response = super().process_response(request, response)
        if response.get(HEADER):
            response[HEADER] = in_settings_order(response[HEADER])
        return response


def in_settings_order(policy: str) -> str:
    """The policy's directives in the order CONTENT_SECURITY_POLICY lists them (others last)."""
    order = list(settings.CONTENT_SECURITY_POLICY["DIRECTIVES"])
    directives = [part.strip() for part in policy.split(";") if part.strip()]

    def place(directive: str) -> int:
        name = directive.split()[0]
        return order.index(name) if name in order else len(order)

    return "; ".join(sorted(directives, key=place))
