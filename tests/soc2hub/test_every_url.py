"""Every URL pattern, opened with simple arguments, anonymous and as Security: no answer shows
Django's debug page, and every page, refusal and error page carries the site's
Content-Security-Policy with a nonce of its own, the same nonce its <script> tags carry.

The arguments are examples made from each pattern ("1" for a number, a real team slug,
criterion code and control ref where the pattern names one), so most object pages answer
404: that is an error page to check too. Downloads keep their own sandbox policy.
"""

import re
from re import _constants as sre
from re import _parser as sre_parse

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from controls.models import Criterion
from tests.factories import ControlFactory
from tests.security_headers import DOWNLOAD_POLICY, body_of, debug_markers_in, policy_nonce, script_nonces

pytestmark = pytest.mark.django_db

# In every page built on templates/base.html, whose <script> tags carry the nonce. (Pages of
# the admin and the API docs load their scripts from this site, which needs no nonce.)
BASE_TEMPLATE_MARK = '<meta name="htmx-config"'
# Readiness answers 503 by design when a dependency is missing (here: no Celery worker).
UNAVAILABLE_BY_DESIGN = {"/readyz"}

# Values for named arguments, used where they fit the pattern (the URL must still resolve).
EXAMPLES = {"slug": "hr", "code": "CC6.1", "ref": "HR-01", "format": "json", "app_label": "controls",
            "provider_id": "sso"}


def example(regex: str) -> str:
    """A string the regex matches: the first alternative, one repetition, simple characters;
    with the EXAMPLES values for named groups when the result still matches."""
    parsed = sre_parse.parse(regex)
    names = {number: name for name, number in parsed.state.groupdict.items()}
    with_values = _emit(parsed, names, EXAMPLES)
    match = re.match(regex, with_values)
    if match and match.end() == len(with_values):
        return with_values
    return _emit(parsed, names, {})


def _emit(items, names, values) -> str:
    out = []
    for op, arg in items:
        if op is sre.LITERAL:
            out.append(chr(arg))
        elif op is sre.SUBPATTERN:
            group, _, _, sub = arg
            name = names.get(group)
            out.append(values[name] if name in values else _emit(sub, names, values))
        elif op is sre.BRANCH:
            out.append(_emit(arg[1][0], names, values))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            out.append(_emit(sub, names, values) * max(low, min(1, high)))
        elif op is sre.IN:
            out.append(_one_of(arg))
        elif op is sre.NOT_LITERAL:
            out.append("1" if chr(arg) != "1" else "a")
        elif op is sre.ANY:
            out.append("a")
        elif op is sre.CATEGORY:
            out.append("1" if arg is sre.CATEGORY_DIGIT else "a")
        # AT (anchors), ASSERT and the like match no characters.
    return "".join(out)


def _one_of(items) -> str:
    if items and items[0][0] is sre.NEGATE:
        excluded = {chr(arg) for op, arg in items[1:] if op is sre.LITERAL}
        return next(c for c in "1ax" if c not in excluded)
    op, arg = items[0]
    if op is sre.LITERAL:
        return chr(arg)
    if op is sre.RANGE:
        return "1" if arg[0] <= ord("1") <= arg[1] else chr(arg[0])
    return "1" if arg is sre.CATEGORY_DIGIT else "a"


def every_url() -> list[str]:
    urls = set()

    def walk(patterns, prefix: str):
        for pattern in patterns:
            piece = example(pattern.pattern.regex.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + piece)
            else:
                urls.add("/" + prefix + piece)

    walk(get_resolver().url_patterns, "")
    resolvable = set()
    for url in urls:
        try:
            resolve(url)
        except Resolver404:
            continue
        resolvable.add(url)
    return sorted(resolvable)


@pytest.fixture
def world(catalog, teams):
    hr = teams["hr"]
    ControlFactory(ref="HR-01", name="Leaver access removal",
                   business_owner=hr, control_owner=hr, evidence_owner=hr,
                   criteria=list(Criterion.objects.filter(code="CC6.1")))


def walk_as(user, *, at_least: int) -> dict[str, tuple[int, str]]:
    """Opens every URL with GET; returns {url: (status, problem)} for the answers that fail a rule.
    ``at_least`` soc2hub pages must have been checked (anonymous visitors mostly get redirects)."""
    problems, nonces, soc2hub_pages = {}, [], 0
    for url in every_url():
        client = Client(raise_request_exception=False)
        if user is not None:
            client.force_login(user)  # again for each URL: a page may sign its visitor out
        response = client.get(url)
        body = body_of(response)
        found = debug_markers_in(body)
        if found:
            problems[url] = (response.status_code, f"debug page markers {found}")
            continue
        if response.status_code >= 500 and not (response.status_code == 503 and url in UNAVAILABLE_BY_DESIGN):
            problems[url] = (response.status_code, "server error")
            continue
        if response.get("Content-Security-Policy") == DOWNLOAD_POLICY:
            continue
        try:
            nonce = policy_nonce(response)
        except AssertionError as exc:
            problems[url] = (response.status_code, str(exc))
            continue
        nonces.append(nonce)
        in_page = script_nonces(body)
        soc2hub_pages += BASE_TEMPLATE_MARK in body
        if in_page - {nonce}:
            problems[url] = (response.status_code, f"script nonces {in_page}, the policy's {nonce}")
        elif BASE_TEMPLATE_MARK in body and nonce not in in_page:
            problems[url] = (response.status_code, "a soc2hub page whose scripts lack the policy's nonce")
    assert len(nonces) > 100 and soc2hub_pages >= at_least, (len(nonces), soc2hub_pages)
    assert len(set(nonces)) == len(nonces), "a nonce was used twice"
    return problems


def test_the_walk_covers_the_map():
    urls = every_url()
    for expected in ("/", "/matrix/", "/criteria/CC6.1/", "/controls/HR-01/", "/teams/hr/", "/api/v1/docs/",
                     "/evidence/requests/1/", "/audits/1/coverage/", "/api/v1/teams/hr/", "/admin/"):
        assert expected in urls
    assert len(urls) > 300


def test_every_url_anonymous(world):
    assert walk_as(None, at_least=10) == {}


def test_every_url_as_security(world, personas):
    security = personas["security"]
    try:
        from tests.factories import second_factor
    except ImportError:  # no second factor in this tree: Security is not asked for one
        pass
    else:
        second_factor(security)
    assert walk_as(security, at_least=100) == {}
