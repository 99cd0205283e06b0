"""The busiest pages under the Content-Security-Policy, in Chromium: the overview's chart, the
ownership matrix's htmx save, HR's drag-and-drop upload, the NHI summary's chart, the API docs,
two-factor enrolment with its QR code and an error page. Each one works, the policy blocks
nothing on it (the conftest's listener fails the test otherwise, and the console says nothing
about the policy), and axe-core finds no serious or critical accessibility problem."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from controls.models import Criterion
from tests.evidence.factories import make_request, make_template
from tests.factories import PASSWORD, Role, member_of
from tests.nhi.factories import days, make_nhi

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

POLICY_WORDS = ("Content Security Policy", "Content-Security-Policy", "Permissions-Policy", "Refused to")


@pytest.fixture
def programme(catalog, teams, personas):
    """Owners spread over the teams (one criterion owned by Security alone), an open HR evidence
    request, and identities in several states for the summary's chart."""
    security, hr, engineering = teams["security"], teams["hr"], teams["engineering"]
    Criterion.objects.update(business_owner=teams["leadership"], control_owner=engineering, evidence_owner=hr)
    Criterion.objects.filter(code="CC7.2").update(business_owner=security, control_owner=security,
                                                  evidence_owner=security)
    template = make_template(hr, title="Termination tickets", starts_on=dt.date(2026, 1, 1))
    request = make_request(template, due_on=timezone.localdate() + dt.timedelta(days=10))
    for n in range(3):
        make_nhi(hr, f"hr-payroll-key-{n}", last_rotated_on=days(-200))
        make_nhi(engineering, f"ci-deploy-key-{n}", last_used_on=days(-90))
    make_nhi(engineering, "build-bot")
    return {"request": request}


@pytest.fixture
def check(csp_violations, screenshot, accessibility_problems):
    """``check(page, name)``: nothing blocked, nothing said about the policy on the console, no
    serious accessibility problem; then a screenshot."""

    def run(page, name: str, *, console: list[str], axe_rules_off: tuple[str, ...] = ()):
        page.wait_for_load_state("networkidle")
        assert csp_violations == [], csp_violations
        assert [line for line in console if any(word in line for word in POLICY_WORDS)] == []
        problems = accessibility_problems(page, rules_off=axe_rules_off)
        assert problems == [], problems
        screenshot(page, name)

    return run


def listen(page) -> list[str]:
    """The page's console errors and warnings, as they come."""
    lines = []
    page.on("console", lambda message: lines.append(f"{message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    return lines


def chart_drawn(page, canvas_id: str) -> bool:
    return page.evaluate("(id) => Boolean(window.Chart && Chart.getChart(id))", canvas_id)


def test_busiest_pages_work_under_the_policy(programme, personas, signed_in, check):
    security = signed_in(personas["security"])
    console = listen(security)

    # The overview: Chart.js draws the owners' load.
    security.goto("/")
    expect(security.get_by_role("heading", name="Overview")).to_be_visible()
    security.wait_for_function("() => window.Chart && Chart.getChart('owner-load-chart')")
    check(security, "1-overview", console=console)

    # The matrix: an owner changed in place (htmx posts, swaps the row, shows its indicator).
    security.goto("/matrix/")
    row = security.locator("tr[data-code='CC7.2']")
    expect(row.get_by_text("Security-only")).to_be_visible()
    row.get_by_label("Control owner of CC7.2").select_option(label="HR")
    expect(row.get_by_text("Saved")).to_be_visible()
    expect(row.get_by_text("Security-only")).to_have_count(0)
    check(security, "2-matrix-after-htmx-save", console=console)

    # The NHI summary: the per-team chart.
    security.goto("/nhi/summary/")
    security.wait_for_function("() => window.Chart && Chart.getChart('nhi-team-chart')")
    assert chart_drawn(security, "nhi-team-chart")
    check(security, "3-nhi-summary", console=console)

    # The API docs: Swagger UI starts from its script file and lists the endpoints.
    security.goto("/api/v1/docs/")
    expect(security.locator(".swagger-ui .info .title")).to_contain_text("soc2hub API")
    expect(security.locator(".opblock").first).to_be_visible()
    security.locator(".opblock-summary").first.click()  # an operation opens (React, no eval)
    expect(security.locator(".opblock-body").first).to_be_visible()
    # Swagger UI puts its copy button inside the operation's summary button (nested-interactive):
    # its own markup, out of reach of our template. Its colours are fixed in static/css/swagger.css.
    check(security, "4-api-docs", console=console, axe_rules_off=("nested-interactive",))

    # An error page in the product's frame.
    security.goto("/no-such-page/")
    expect(security.get_by_role("heading", name="Not found")).to_be_visible()
    check(security, "5-not-found", console=console)


def test_evidence_upload_by_drag_and_drop_under_the_policy(programme, personas, signed_in, check):
    hr = signed_in(personas["owner"])
    console = listen(hr)
    hr.goto(f"/evidence/requests/{programme['request'].pk}/")
    expect(hr.locator("[data-dropzone]")).to_be_visible()

    # Drop a file on the zone, as a browser does: the widget's script lists it.
    dropped = hr.evaluate_handle("""() => {
        const transfer = new DataTransfer();
        const csv = "employee,last_day\\nE102,2026-08-01\\n";
        transfer.items.add(new File([csv], "leavers-q3.csv", {type: "text/csv"}));
        return transfer;
    }""")
    hr.dispatch_event("[data-dropzone]", "dragenter", {"dataTransfer": dropped})
    hr.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": dropped})
    expect(hr.locator("[data-file-list] li")).to_contain_text("leavers-q3.csv")
    check(hr, "1-file-dropped", console=console)

    hr.get_by_label("Note for the reviewer").fill("HRIS leavers report for the quarter.")
    hr.get_by_role("button", name="Submit for review").click()
    expect(hr.get_by_text("Evidence submitted.")).to_be_visible()
    expect(hr.get_by_test_id("request-status")).to_contain_text("Submitted")
    check(hr, "2-submitted", console=console)


def test_two_factor_enrolment_shows_its_qr_code_under_the_policy(settings, teams, new_context, check):
    settings.MFA_REQUIRED_GROUPS = ["Leadership"]
    leader = member_of(teams["leadership"], username="lena_leadership", roles=[Role.LEADERSHIP])
    page = new_context().new_page()
    console = listen(page)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(leader.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    qr_code = page.get_by_role("img", name=re.compile("QR code"))
    expect(qr_code).to_be_visible()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", qr_code.element_handle())
    check(page, "1-enrolment", console=console)


def test_sign_in_page_for_anonymous_visitors(anonymous_page, check):
    console = listen(anonymous_page)
    anonymous_page.goto("/")
    expect(anonymous_page.get_by_role("heading", name="Sign in to soc2hub")).to_be_visible()
    check(anonymous_page, "1-sign-in", console=console)
    anonymous_page.goto("/no-such-page/")
    expect(anonymous_page.get_by_role("link", name="Sign in")).to_be_visible()
    check(anonymous_page, "2-not-found", console=console)
