"""Browser journeys: Playwright drives Debian's Chromium against pytest-django's live server.

Every journey takes screenshots into ``test-artifacts/screenshots/`` so a person can look at
what each role saw. Use ``signed_in(user)`` to get a page signed in as someone.

Every page a journey opens is watched for Content-Security-Policy violations (a script, style
or handler the policy blocked): a journey that met one fails when it ends, naming it.
"""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import missing
from tests.factories import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        missing(f"Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright (pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


# Reports each violation to Python as it happens, from every page and frame of a context.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__soc2hubCspViolation({directive: event.effectiveDirective, blocked: event.blockedURI,
    page: document.location.pathname, source: event.sourceFile, line: event.lineNumber,
    sample: event.sample});
});
"""


def watch_csp(context, violations: list[dict]) -> None:
    """Adds the CSP violations of every page the context opens to ``violations``, as they happen."""
    context.expose_binding("__soc2hubCspViolation", lambda source, violation: violations.append(violation))
    context.add_init_script(CSP_LISTENER)


@pytest.fixture
def csp_violations():
    """Every CSP violation seen by this test's browser contexts (``signed_in`` and ``anonymous_page``)."""
    violations = []
    yield violations
    assert not violations, f"the Content-Security-Policy blocked: {violations}"


@pytest.fixture
def new_context(browser, live_server, csp_violations):
    """``new_context()``: a fresh browser context on the live server, watched for CSP violations."""
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        watch_csp(context, csp_violations)  # a test may look mid-way; the fixture checks at the end
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def anonymous_page(new_context):
    """A page in a fresh context, signed in as nobody."""
    return new_context().new_page()


@pytest.fixture
def signed_in(new_context, request):
    """``signed_in(user)`` opens a fresh browser context and signs ``user`` in through the form."""

    def sign_in(user, password: str = PASSWORD):
        context = new_context()
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r".*/$"))
        return page

    return sign_in


@pytest.fixture
def screenshot(request):
    """``screenshot(page, "name")`` saves a full-page PNG named after the test."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def accessibility_problems(csp_violations):
    """``accessibility_problems(page)``: axe-core's serious and critical findings on the page,
    as readable lines (``rules_off`` names rules to skip, with a reason at the call)."""
    from axe_playwright_python.sync_playwright import Axe

    def run(page, *, rules_off: tuple[str, ...] = ()) -> list[str]:
        seen = len(csp_violations)
        options = {"resultTypes": ["violations"], "rules": {rule: {"enabled": False} for rule in rules_off}}
        results = Axe().run(page, options=options)
        # axe-core builds its messages with new Function(), which the policy refuses (axe copes):
        # that is the test's own script, not the page's.
        del csp_violations[seen:]
        return [f"{v['id']}: {v['help']} ({len(v['nodes'])}: {[n['target'] for n in v['nodes'][:3]]})"
                for v in results.response["violations"] if v["impact"] in ("serious", "critical")]

    return run
