"""The deployment files agree with the settings, and production settings pass Django's deploy checks."""

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_SOURCE = (ROOT / "soc2hub" / "settings.py").read_text()
APP_SERVICES = ("web", "worker", "beat")

# Variables that decide which backends and which mode the settings pick, and test-only
# switches (conftest sets DJANGO_ALLOW_ASYNC_UNSAFE for Playwright, which check --deploy
# rightly rejects): a subprocess must not inherit them from the shell, .ci/run or conftest.
INHERITED_SETTINGS = re.compile(r"^(DATABASE_URL|REDIS_URL|SECRET_KEY|DEBUG|ALLOWED_HOSTS|EMAIL_URL|MEDIA_ROOT|"
                                r"SOC2HUB_\w+|AWS_\w+|SECURE_\w+|CSRF_TRUSTED_ORIGINS|CELERY_\w+|DJANGO_\w+)$")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def command_of(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def mount_targets(service: dict) -> dict[str, str]:
    """Volume name (or host path) -> mount point, for short and long volume syntax."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source"), volume["target"]
        mounts[source] = target
    return mounts


def settings_env_names() -> set[str]:
    """Names settings.py reads from the environment: env.str("NAME", ...), os.environ["NAME"] and the like."""
    calls = re.findall(r"\b(?:env|Env\(\))(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", SETTINGS_SOURCE)
    os_reads = re.findall(r"os\.environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]*)\"", SETTINGS_SOURCE)
    os_reads += re.findall(r"os\.getenv\(\s*\"([A-Z][A-Z0-9_]*)\"", SETTINGS_SOURCE)
    return set(calls) | set(os_reads)


def production_env() -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),  # 64 characters
        "ALLOWED_HOSTS": "soc2hub.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://soc2hub.example.com",
    }


def manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run manage.py in a subprocess with only the given settings variables (plus temp paths and SQLite)."""
    return python("manage.py", *args, env=env, tmp_path=tmp_path)


def python(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {name: value for name, value in os.environ.items() if not INHERITED_SETTINGS.match(name)}
    clean.update(
        DJANGO_SETTINGS_MODULE="soc2hub.settings",
        SOC2HUB_VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(tmp_path / "media"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    )
    clean.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- docker-compose.yml ------------------------------------------------------------------


def test_compose_defines_the_stack(services):
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    assert services["db"]["image"].startswith("postgres:16")
    assert "healthcheck" in services["db"]
    assert services["redis"]["image"].startswith("redis:7")


def test_web_runs_gunicorn_on_the_wsgi_app(services):
    command = command_of(services["web"])
    assert command[0] == "gunicorn"
    assert "soc2hub.wsgi:application" in command
    assert any("0.0.0.0:8000" in part for part in command)


def test_worker_and_beat_run_celery_for_soc2hub(services):
    worker = command_of(services["worker"])
    beat = command_of(services["beat"])
    for command, subcommand in ((worker, "worker"), (beat, "beat")):
        assert command[:3] == ["celery", "-A", "soc2hub"]
        assert command[3] == subcommand
    # The stack runs one separate beat; a worker with embedded beat (-B) would schedule twice.
    assert "-B" not in worker and "--beat" not in worker

    scheduler = "django_celery_beat.schedulers:DatabaseScheduler"
    assert (
        f"--scheduler={scheduler}" in beat
        or any(flag in ("--scheduler", "-S") and value == scheduler for flag, value in zip(beat, beat[1:]))
    )


def test_worker_and_beat_come_back_after_a_crash(services):
    """A dead worker or beat is restarted; the job sweeper then queues again what it dropped."""
    for name in ("worker", "beat"):
        assert services[name].get("restart") in ("unless-stopped", "always", "on-failure"), name
    # The worker's health is its own answer to a ping, not the web's.
    check = " ".join(services["worker"]["healthcheck"]["test"])
    assert "inspect ping" in check and "celery@$$HOSTNAME" in check


def test_web_healthcheck_is_liveness_and_readiness_is_served(services):
    """Compose probes /healthz (a worker or Redis outage must not mark web unhealthy); /readyz
    exists for the proxy and monitoring (tests/soc2hub/test_health.py)."""
    check = " ".join(services["web"]["healthcheck"]["test"])
    assert "/healthz" in check
    from django.urls import reverse

    assert (reverse("healthz"), reverse("readyz")) == ("/healthz", "/readyz")


def test_redis_broker_survives_long_jobs_and_lost_workers(tmp_path):
    """With Redis: a visibility timeout longer than the longest job, late acks, tasks of a lost
    worker rejected back to the queue, and a worker that keeps reconnecting."""
    result = python("-c", (
        "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps(["
        "s.CELERY_BROKER_TRANSPORT_OPTIONS, s.CELERY_TASK_ACKS_LATE, s.CELERY_TASK_REJECT_ON_WORKER_LOST, "
        "s.CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP, s.CELERY_BROKER_CONNECTION_MAX_RETRIES, "
        "s.JOB_STALE_SECONDS]))"),
        env={**production_env(), "REDIS_URL": "redis://redis:6379/0"}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    options, acks_late, reject_lost, retry_on_startup, max_retries, stale = json.loads(result.stdout)
    assert options["visibility_timeout"] >= 6 * 60 * 60
    assert acks_late and reject_lost and retry_on_startup and max_retries is None
    assert stale < options["visibility_timeout"]  # the sweeper notices a dead worker long before Redis


def test_migrations_run_before_the_app_starts(services):
    runs_migrate = [
        name for name, service in services.items() if "manage.py migrate" in " ".join(command_of(service))
    ]
    assert runs_migrate, "no service runs `manage.py migrate`"
    for name in APP_SERVICES:
        depends_on = services[name].get("depends_on", {})
        for migrator in set(runs_migrate) - {name}:
            assert depends_on.get(migrator, {}).get("condition") == "service_completed_successfully"


def test_app_services_share_one_environment(services):
    web_env = services["web"]["environment"]
    assert isinstance(web_env, dict) and web_env
    for name in APP_SERVICES:
        assert services[name]["environment"] == web_env, f"{name} has a different environment from web"
        assert services[name].get("image") == services["web"].get("image")


def test_every_variable_set_is_read_by_settings(services):
    read = settings_env_names()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "MEDIA_ROOT"} <= read  # the grep works
    for name in APP_SERVICES:
        unknown = set(services[name]["environment"]) - read
        assert not unknown, f"{name} sets variables settings.py never reads: {sorted(unknown)}"


def test_production_environment(services):
    env = services["web"]["environment"]
    assert str(env["DEBUG"]).lower() == "false"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), "SECRET_KEY must be required, never defaulted"
    for name in ("ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "EMAIL_URL", "MEDIA_ROOT"):
        assert name in env
    for name in ("AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert name in env


def test_database_and_redis_urls_point_at_their_services(services):
    env = services["web"]["environment"]
    database = urlsplit(env["DATABASE_URL"])
    assert database.scheme in ("postgres", "postgresql", "pgsql")
    assert database.hostname == "db" and "db" in services
    redis = urlsplit(env["REDIS_URL"])
    assert redis.scheme == "redis"
    assert redis.hostname == "redis" and "redis" in services


def test_media_volume_is_mounted_at_media_root(compose, services):
    media_root = services["web"]["environment"]["MEDIA_ROOT"]
    assert "media" in compose.get("volumes", {})
    for name in ("web", "worker"):
        assert mount_targets(services[name]).get("media") == media_root, f"{name} lacks the media volume"


def test_dockerfile_builds_a_non_root_image():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim-bookworm\b", dockerfile, re.M)
    assert re.search(r"^EXPOSE 8000\b", dockerfile, re.M)
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    for library in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz0b"):
        assert library in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", ".git"} <= set(ignored)


def test_scripts_are_executable_and_parse():
    for script in (".ci/run", "bin/run-embedded"):
        path = ROOT / script
        assert os.access(path, os.X_OK), f"{script} is not executable"
        subprocess.run(["bash", "-n", str(path)], check=True)


# --- settings in production mode ----------------------------------------------------------


def test_production_settings_pass_deploy_checks(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(), tmp_path=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNING" not in output and "?: (" not in output, output


def test_production_static_files_collect(tmp_path):
    """The Docker build runs collectstatic with DEBUG off, where every reference inside
    CSS and JS (url(...), sourceMappingURL) must resolve for the hashed manifest."""
    static_root = tmp_path / "static"
    # WhiteNoise's storage is Django's manifest storage plus gzip/brotli, which takes half
    # a minute and cannot fail on a reference; the manifest step alone is what is checked.
    script = (
        "import sys, django; from django.conf import settings; django.setup(); "
        "from django.utils.module_loading import import_string; "
        "from django.contrib.staticfiles.storage import ManifestStaticFilesStorage as Manifest; "
        "assert issubclass(import_string(settings.STORAGES['staticfiles']['BACKEND']), Manifest); "
        "settings.STORAGES['staticfiles'] = {'BACKEND': 'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'}; "
        "settings.STATIC_ROOT = sys.argv[1]; "
        "from django.core.management import call_command; "
        "call_command('collectstatic', interactive=False, verbosity=0)"
    )
    result = python("-c", script, str(static_root), env=production_env(), tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (static_root / "staticfiles.json").exists()


def test_production_refuses_to_start_without_secret_key(tmp_path):
    result = manage("check", env={"DEBUG": "false"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def settings_as_seen(env: dict[str, str], tmp_path: Path) -> dict:
    script = ("import json, django; from django.conf import settings as s; django.setup(); print(json.dumps({"
              "'DEBUG': s.DEBUG, 'LOCAL': s.LOCAL, 'SSL_REDIRECT': s.SECURE_SSL_REDIRECT, "
              "'SESSION_COOKIE_SECURE': s.SESSION_COOKIE_SECURE, 'HSTS': s.SECURE_HSTS_SECONDS, "
              "'SECRET_KEY': s.SECRET_KEY, 'STATICFILES': s.STORAGES['staticfiles']['BACKEND']}))")
    result = python("-c", script, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_debug_is_off_unless_asked_for(tmp_path):
    """Nothing in the environment about DEBUG: production settings, no debug page."""
    env = production_env()
    del env["DEBUG"]
    seen = settings_as_seen(env, tmp_path)
    assert seen["DEBUG"] is False and seen["LOCAL"] is False
    assert seen["SSL_REDIRECT"] and seen["SESSION_COOKIE_SECURE"] and seen["HSTS"]
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env, tmp_path=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "no issues" in output, output


def test_local_server_serves_plain_http_with_a_key_of_its_own(tmp_path):
    """What `make run` gets: DEBUG off, nothing that needs HTTPS, static files without
    collectstatic, and a secret key made once under the var dir, readable by its owner only."""
    first = settings_as_seen({"SOC2HUB_LOCAL": "true"}, tmp_path)
    assert first["DEBUG"] is False and first["LOCAL"] is True
    assert not first["SSL_REDIRECT"] and not first["SESSION_COOKIE_SECURE"] and not first["HSTS"]
    assert first["STATICFILES"] == "django.contrib.staticfiles.storage.StaticFilesStorage"
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == first["SECRET_KEY"] and len(first["SECRET_KEY"]) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "insecure" not in first["SECRET_KEY"]
    assert settings_as_seen({"SOC2HUB_LOCAL": "true"}, tmp_path)["SECRET_KEY"] == first["SECRET_KEY"]


def test_local_server_is_not_a_production_configuration(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={"SOC2HUB_LOCAL": "true"},
                    tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stdout + result.stderr


def test_local_server_answers_loopback_only(tmp_path):
    result = manage("check", env={"SOC2HUB_LOCAL": "true", "ALLOWED_HOSTS": "soc2hub.example.com"},
                    tmp_path=tmp_path)
    assert result.returncode != 0
    assert "loopback" in result.stderr
