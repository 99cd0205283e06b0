"""docs/operations.md, run for real: back up PostgreSQL and MEDIA_ROOT with the documented commands,
damage the rows and the files, restore into a fresh database and media directory, and check that
the rows are back and that ``verify_evidence`` passes on the restored files."""

import datetime as dt
import io
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from evidence.models import EvidenceFile
from tests.evidence.factories import make_request, make_template, pdf, submit, upload

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "operations.md").read_text()
pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump sees only committed rows


def pg_env() -> dict[str, str]:
    """The PG* variables the documented commands read, from settings.DATABASES."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST=db["HOST"] or "localhost", PGPORT=str(db["PORT"] or 5432), PGUSER=db["USER"] or "postgres",
               PGPASSWORD=db["PASSWORD"] or "", PGCONNECT_TIMEOUT="10")
    return env


def sh(*command: str, env=None):
    return subprocess.run(command, env=env or pg_env(), capture_output=True, text=True, timeout=60, check=True)


def psql(database: str, query: str) -> str:
    return sh("psql", "-X", "-At", "-d", database, "-c", query).stdout.strip()


def test_the_documented_commands_are_the_ones_tested():
    for command in ("pg_dump -Fc --no-owner -f", 'tar -C "$MEDIA_ROOT" -czf', "createdb soc2hub",
                    "pg_restore --clean --if-exists --no-owner -d soc2hub", 'tar -C "$MEDIA_ROOT" -xzf',
                    "python manage.py verify_evidence", "sqlite3 var/soc2hub.sqlite3 \".backup", "aws s3 sync",
                    "SECRET_KEY", "var/secret_key", ".env"):
        assert command in DOC, command
    assert DOC.index("### Back up") < DOC.index("pg_dump -Fc") < DOC.index('tar -C "$MEDIA_ROOT" -czf')  # database first


def test_backup_and_restore_of_postgresql_and_media(require_postgres, teams, personas, settings, tmp_path):
    media = Path(settings.MEDIA_ROOT)
    hr_request = make_request(make_template(teams["hr"], title="Termination tickets"),
                              due_on=timezone.localdate() + dt.timedelta(days=10))
    submit(hr_request, personas["owner"], pdf("leavers.pdf"), upload("leavers.csv", b"name\nAda\nZoe\n"))
    files = list(EvidenceFile.objects.order_by("pk").values_list("pk", "file", "sha256"))
    source = connection.settings_dict["NAME"]

    # Back up: the database first, then the files (docs/operations.md, "Back up").
    dump, archive = tmp_path / "soc2hub.dump", tmp_path / "soc2hub-media.tar.gz"
    sh("pg_dump", "-Fc", "--no-owner", "-f", str(dump), source)
    sh("tar", "-C", str(media), "-czf", str(archive), ".")

    # Damage: a recorded hash, one file's bytes, another file gone; the check notices.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE evidence_evidencefile SET sha256 = %s WHERE id = %s", ["0" * 64, files[0][0]])
    (media / files[1][1]).write_bytes(b"name\nMallory\n")
    (media / files[0][1]).unlink()
    with pytest.raises(CommandError, match="1 changed, 1 missing"):
        call_command("verify_evidence", stdout=io.StringIO(), stderr=io.StringIO())

    # Restore into a fresh database and an empty media directory (docs/operations.md, "Restore").
    restored_db = f"soc2hub_restore_{uuid.uuid4().hex[:8]}"
    restored_media = tmp_path / "restored-media"
    restored_media.mkdir()
    sh("createdb", restored_db)
    try:
        sh("pg_restore", "--clean", "--if-exists", "--no-owner", "-d", restored_db, str(dump))
        sh("tar", "-C", str(restored_media), "-xzf", str(archive))

        assert psql(restored_db, "SELECT string_agg(id || ':' || file || ':' || sha256, ',' ORDER BY id) "
                                 "FROM evidence_evidencefile") == ",".join(f"{pk}:{name}:{sha}" for pk, name, sha in files)
        assert psql(restored_db, f"SELECT status FROM evidence_evidencerequest WHERE id = {hr_request.pk}") == "submitted"
        assert psql(restored_db, "SELECT count(*) FROM soc2hub_activitylog WHERE verb = 'evidence.submitted'") == "1"

        db = connection.settings_dict
        verify = subprocess.run(
            [sys.executable, "manage.py", "verify_evidence"], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**{k: v for k, v in os.environ.items() if not re.match(r"(DATABASE_URL|MEDIA_ROOT|AWS_|SECRET_KEY)", k)},
                 "DJANGO_SETTINGS_MODULE": "soc2hub.settings", "SOC2HUB_LOCAL": "true",
                 "SOC2HUB_VAR_DIR": str(tmp_path / "var"), "MEDIA_ROOT": str(restored_media),
                 "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or 'localhost'}:"
                                 f"{db['PORT'] or 5432}/{restored_db}"},
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "2 stored files checked; every one matches its recorded SHA-256." in verify.stdout
    finally:
        connection.close()  # nothing of ours may hold the restored database open
        sh("dropdb", "--if-exists", "--force", restored_db)
