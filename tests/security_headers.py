"""What every answer must and must not carry: the Content-Security-Policy with its nonce, and
nothing of Django's debug pages. Shared by the error-page, URL-walk and browser tests."""

import re

# Words only Django's debug pages (technical 404 and 500) print.
DEBUG_MARKERS = ("Traceback", "Request Method", "URLconf", "settings.py", "DJANGO_SETTINGS_MODULE")

# The site policy as shipped, directive by directive, with the nonce as {nonce}
# (soc2hub/settings.py CONTENT_SECURITY_POLICY; test_security_headers checks the exact header).
SITE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self' 'nonce-{nonce}'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Downloads of uploaded files and generated reports: nothing in them may run or load.
DOWNLOAD_POLICY = "default-src 'none'; sandbox"

_NONCE_IN_POLICY = re.compile(r"'nonce-([^']+)'")
_NONCE_ATTRIBUTE = re.compile(r"<script\b[^>]*\bnonce=\"([^\"]*)\"", re.IGNORECASE)


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def debug_markers_in(text: str) -> list[str]:
    return [marker for marker in DEBUG_MARKERS if marker in text]


def policy_nonce(response) -> str:
    """The nonce of the response's site policy; fails if the policy or its nonce is missing."""
    policy = response.get("Content-Security-Policy")
    assert policy, f"no Content-Security-Policy on {response.status_code} {response.wsgi_request.path}"
    match = _NONCE_IN_POLICY.search(policy)
    assert match, f"no nonce in the policy of {response.wsgi_request.path}: {policy}"
    nonce = match.group(1)
    expected = {name: value.format(nonce=nonce) for name, value in SITE_POLICY.items()}
    assert directives(policy) == expected, policy
    return nonce


def directives(policy: str) -> dict[str, str]:
    """``{"script-src": "'self' 'nonce-…'", …}`` from a policy header."""
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in policy.split(";") if part.strip())


def script_nonces(html: str) -> set[str]:
    """The nonce="..." of every <script> tag in a page."""
    return set(_NONCE_ATTRIBUTE.findall(html))
