"""The PDFs, rendered for real by WeasyPrint: one exception with its signature block and content
hash, and the register. Pages are counted and text extracted with pypdf, and cross-checked with
poppler's pdftotext."""

import io
import re
import subprocess

import pytest
from pypdf import PdfReader

from exceptions.models import ExceptionStatus
from tests.exceptions.factories import IP, advance, fresh, make_exception

S = ExceptionStatus
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("require_pdftools")]


def pdf_pages(content: bytes) -> list[str]:
    assert content.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def pdftotext(content: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def flat(text: str) -> str:
    """Text without any whitespace: a 64-character hash may be wrapped over lines."""
    return re.sub(r"\s+", "", text)


@pytest.fixture
def signed(people, teams, controls, criterion):
    exception = make_exception(people["owner"], teams["hr"], controls=[controls["hr"]], criteria=[criterion],
                               title="Contractor keeps production access")
    return advance(exception, S.APPROVED, people)


def test_the_exception_pdf_carries_both_signatures_and_the_content_hash(signed, people, client_for, tmp_path):
    response = client_for(people["security"]).get(f"/exceptions/{signed.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{signed.reference}.pdf"'
    pages = pdf_pages(response.content)
    assert len(pages) == 1  # a short exception and its two signatures fit on one page
    text = "\n".join(pages)
    content_hash = signed.content_sha256()
    assert f"{signed.reference} — Contractor keeps production access" in text
    assert "Approved" in text and "version 1" in text
    assert "HR-01" in text and "CC6.1" in text
    assert "High — likelihood 3 × impact 4 = 12" in text
    assert "Recommendation: Approve" in text
    for who in ("finance", "leadership"):
        assert people[who].get_full_name() in text
        assert f"({people[who].username})" in text
    assert flat(text).count(content_hash) == 3  # the content's hash and each signature's
    assert text.count(f"IP {IP}") == 2
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    # poppler reads the same document.
    poppler = pdftotext(response.content, tmp_path)
    assert signed.reference in poppler and content_hash in flat(poppler)
    assert all(people[who].get_full_name() in poppler for who in ("finance", "leadership"))


def test_an_unsigned_exception_says_so(people, teams, client_for):
    draft = make_exception(people["owner"], teams["hr"])
    text = "\n".join(pdf_pages(client_for(people["owner"]).get(f"/exceptions/{draft.pk}/pdf/").content))
    assert "No signatures on this version." in text
    assert "Not reviewed yet." in text
    assert draft.content_sha256() in flat(text)


def test_a_long_exception_runs_over_pages_and_keeps_its_hash(people, teams, client_for):
    long = "\n".join(f"Step {n}: the contractor's access is reviewed by the on-call lead." for n in range(1, 121))
    exception = advance(make_exception(people["owner"], teams["hr"], compensating_controls=long), S.APPROVED, people)
    pages = pdf_pages(client_for(people["owner"]).get(f"/exceptions/{exception.pk}/pdf/").content)
    assert len(pages) >= 3
    text = "\n".join(pages)
    assert "Step 1:" in text and "Step 120:" in text
    assert flat(text).count(exception.content_sha256()) == 3
    assert all(f"soc2hub · {exception.reference} version 1" in page for page in pages)


@pytest.fixture
def register(people, teams, controls):
    """Exceptions of three teams, in several statuses, with short titles that fit their cells."""
    return {
        "hr approved": advance(make_exception(people["owner"], teams["hr"], title="HR kiosk"), S.APPROVED, people),
        "hr draft": make_exception(people["owner"], teams["hr"], title="HR payroll", type="policy"),
        "legal": make_exception(people["other_team"], teams["legal"], title="Legal inbox", type="vendor"),
        "eng": make_exception(people["security"], teams["engineering"], title="Eng bastion",
                              type="control_deviation"),
    }


def test_an_auditor_gets_the_register_only_through_an_audit(register, people, client_for):
    assert client_for(people["auditor"]).get("/exceptions/register.pdf").status_code == 403


@pytest.mark.parametrize("persona, sees", [
    ("owner", {"hr approved", "hr draft"}),
    ("other_team", {"legal"}),
    ("security", {"hr approved", "hr draft", "legal", "eng"}),
    ("leadership", {"hr approved", "hr draft", "legal", "eng"}),
])
def test_the_register_pdf_lists_what_the_persona_may_see_and_nothing_else(register, people, client_for, tmp_path,
                                                                          persona, sees):
    response = client_for(people[persona]).get("/exceptions/register.pdf")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="exception-register-')
    pages = pdf_pages(response.content)
    assert len(pages) == 1
    text = "\n".join(pages)
    poppler = pdftotext(response.content, tmp_path)
    assert f"{len(sees)} exception{'s' if len(sees) != 1 else ''}" in text
    for name, exception in register.items():
        for extracted in (text, poppler):
            assert (exception.reference in extracted) == (name in sees), (name, persona)
            assert (exception.title in extracted) == (name in sees), (name, persona)
    if not sees:
        assert "No exceptions." in text
    if "hr approved" in sees:
        signer = people["leadership"].get_full_name()
        assert signer in text  # the "Signed by" column


def test_the_register_pdf_follows_the_filters(register, people, client_for):
    text = "\n".join(pdf_pages(client_for(people["security"]).get(
        "/exceptions/register.pdf?status=draft&team=hr").content))
    assert register["hr draft"].reference in text
    assert not any(register[name].reference in text for name in ("hr approved", "legal", "eng"))


def test_a_long_register_runs_over_pages_and_lists_every_row(people, teams, client_for):
    exceptions = [make_exception(people["owner"], teams["hr"], title=f"Row {n:02d}") for n in range(45)]
    pages = pdf_pages(client_for(people["owner"]).get("/exceptions/register.pdf").content)
    assert len(pages) > 1
    text = "\n".join(pages)
    assert all(e.reference in text for e in exceptions)
    assert "45 exceptions" in pages[0]
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]


def test_voided_signatures_stay_out_of_the_register(signed, people, client_for):
    from exceptions import services

    services.exception_update(exception=signed, actor=people["owner"], justification="Widened.")
    text = "\n".join(pdf_pages(client_for(people["security"]).get("/exceptions/register.pdf").content))
    assert fresh(signed).status == S.SUBMITTED
    assert people["leadership"].get_full_name() not in text
    assert people["finance"].get_full_name() not in text
