"""Logs, error reporting and password hashing in production settings.

Request and task log lines carry the request id, the person's id, the path and the status;
LOG_FORMAT=json gives one JSON object a line; Sentry starts only with SENTRY_DSN and without
personal data; passwords are hashed with Argon2 and older hashes upgrade at sign-in.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.hashers import make_password

import soc2hub.settings as production_settings

ROOT = Path(__file__).resolve().parents[2]


def python_with(env: dict[str, str], code: str, tmp_path) -> subprocess.CompletedProcess:
    """Run ``code`` after django.setup() with soc2hub.settings and only these extra variables."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("SENTRY_", "LOG_", "DJANGO_", "DEBUG", "SECRET_KEY", "SOC2HUB_"))}
    clean.update(DJANGO_SETTINGS_MODULE="soc2hub.settings", SOC2HUB_LOCAL="true",
                 SOC2HUB_VAR_DIR=str(tmp_path / "var"), **env)
    return subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + code], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60)


def test_every_request_logs_its_id_user_path_and_status(client_for, personas, caplog):
    caplog.set_level("INFO", logger="django_structlog")
    owner = personas["owner"]

    response = client_for(owner).get("/evidence/")

    finished = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "request_finished"]
    assert len(finished) == 1
    line = finished[0]
    assert response.status_code == line["code"] == 200
    assert line["request_id"] and line["user_id"] == owner.pk
    assert line["request"] == "GET /evidence/"


def test_log_format_json_writes_one_json_object_a_line(tmp_path):
    done = python_with({"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}, (
        "import logging, structlog\n"
        "structlog.contextvars.bind_contextvars(request_id='req-1')\n"
        "logging.getLogger('soc2hub.x').info('plain %s line', 'stdlib')\n"
        "structlog.get_logger('soc2hub.y').info('evidence_verified', checked=3)\n"
        "logging.getLogger('axes').info('quiet: below WARNING')\n"
    ), tmp_path)

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert [(e["event"], e["level"], e["request_id"]) for e in lines] == [
        ("plain stdlib line", "info", "req-1"), ("evidence_verified", "info", "req-1")]
    assert lines[1]["checked"] == 3 and "timestamp" in lines[1]


def test_console_format_is_readable_lines(tmp_path):
    done = python_with({"LOG_LEVEL": "INFO"}, "import logging\nlogging.getLogger('soc2hub.x').warning('disk %s', 'low')\n",
                       tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[warning  ] disk low" in done.stderr and not done.stderr.lstrip().startswith("{")


def test_quiet_loggers_and_log_level_are_kept():
    loggers = production_settings.LOGGING["loggers"]
    assert {name: loggers[name]["level"] for name in ("axes", "weasyprint", "fontTools", "django.db.backends")} == \
        dict.fromkeys(("axes", "weasyprint", "fontTools", "django.db.backends"), "WARNING")
    assert production_settings.LOGGING["root"]["level"] == production_settings.LOG_LEVEL


def test_celery_tasks_log_with_their_task_id():
    from soc2hub.celery import app
    from django_structlog.celery.steps import DjangoStructLogInitStep

    assert DjangoStructLogInitStep in app.steps["worker"]
    assert production_settings.DJANGO_STRUCTLOG_CELERY_ENABLED is True
    assert production_settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False


SENTRY_STATE = (
    "import json, sentry_sdk\n"
    "client = sentry_sdk.get_client()\n"
    "print(json.dumps({'active': client.is_active(), 'pii': client.options.get('send_default_pii'),\n"
    "                  'traces': client.options.get('traces_sample_rate'),\n"
    "                  'integrations': sorted(getattr(client, 'integrations', {}))}))\n"
)


def test_sentry_starts_only_with_a_dsn_and_without_personal_data(tmp_path):
    off = python_with({}, SENTRY_STATE, tmp_path)
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout)["active"] is False

    on = python_with({"SENTRY_DSN": "https://public@127.0.0.1:9/1", "SENTRY_TRACES_SAMPLE_RATE": "0.25"},
                     SENTRY_STATE, tmp_path)
    assert on.returncode == 0, on.stderr
    state = json.loads(on.stdout)
    assert state["active"] is True and state["pii"] is False and state["traces"] == 0.25
    assert {"django", "celery"} <= set(state["integrations"])


def test_production_settings_hash_passwords_with_argon2_first():
    hashers = production_settings.PASSWORD_HASHERS
    assert hashers[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in hashers


@pytest.mark.django_db
def test_an_older_pbkdf2_password_is_upgraded_to_argon2_at_sign_in(client, settings):
    from tests.factories import UserFactory

    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS
    person = UserFactory(username="pat_pbkdf2")
    person.password = make_password("an old but long passphrase", hasher="pbkdf2_sha256")
    person.save(update_fields=["password"])

    response = client.post("/accounts/login/", {"login": "pat_pbkdf2", "password": "an old but long passphrase"})

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.password.startswith("argon2$")
    assert person.check_password("an old but long passphrase")


def test_docker_compose_logs_json_lines_by_default():
    import yaml

    environment = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-soc2hub-environment"]
    assert environment["LOG_FORMAT"] == "${LOG_FORMAT:-json}"
    assert environment["SENTRY_DSN"] == "${SENTRY_DSN:-}"  # off unless set
