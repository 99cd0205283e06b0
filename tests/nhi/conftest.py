"""Fixtures for the import and export tests (test_importers, test_imports, test_export).

The real AWS credential report and kubectl samples are copied into ``data/`` so the suite
needs nothing beside the repository. Nothing here is autouse: other NHI tests are unaffected.
Celery runs eagerly in tests; an import's check and apply are queued with
``transaction.on_commit``, so ``run_import`` and ``apply_import`` run those callbacks.
"""

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from nhi import imports
from nhi.importers.csv_format import COLUMNS

DATA = Path(__file__).parent / "data"


@pytest.fixture
def fast_hashing(settings):
    """Personas are created with a password; the production hasher costs ~0.3 s a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def sample():
    """``sample("aws-credential-report.csv")``: a sample file's bytes."""
    return lambda name: (DATA / name).read_bytes()


def csv_bytes(rows: list[dict], columns=COLUMNS) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in columns})
    return out.getvalue().encode()


@pytest.fixture
def make_csv():
    """``make_csv(rows, columns=COLUMNS)``: a soc2hub CSV as bytes from a list of dicts."""
    return csv_bytes


def identity_row(n: int, **values) -> dict:
    """A valid soc2hub CSV row for an HR-owned access key (override any column)."""
    return {"external_id": f"key-{n}", "name": f"Key {n}", "kind": "access_key", "owner_team": "hr",
            "provider": "AWS", "environment": "production", "status": "active", "created_on": "2024-01-01",
            "last_rotated_on": "2025-01-01", "last_used_on": "2025-06-01", **values}


@pytest.fixture
def row():
    return identity_row


@pytest.fixture
def run_import(django_capture_on_commit_callbacks, personas, fast_hashing):
    """Upload ``content`` as Security (or ``actor``) and run the check; returns the import."""

    def run(content: bytes, format: str = "csv", *, name: str | None = None, actor=None, **kwargs):
        upload = SimpleUploadedFile(name or ("k8s.json" if format == "k8s-serviceaccounts" else "import.csv"), content)
        with django_capture_on_commit_callbacks(execute=True):
            imp = imports.import_create(actor=actor or personas["security"], format=format, upload=upload, **kwargs)
        imp.refresh_from_db()
        return imp

    return run


@pytest.fixture
def apply_import(django_capture_on_commit_callbacks, personas):
    """Apply ``imp`` as Security (or ``actor``) and run the write; returns the import."""

    def apply(imp, actor=None):
        with django_capture_on_commit_callbacks(execute=True):
            imports.import_apply(imp=imp, actor=actor or personas["security"])
        imp.refresh_from_db()
        return imp

    return apply
