"""Real services for the reliability tests: a throwaway Redis that a test stops and starts, the
project's Celery app pointed at it (not eager), and real ``celery worker`` processes on the
test database. Nothing is patched: the broker is really down, the worker really killed."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connections

from tests.conftest import missing

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, *, timeout: float, interval: float = 0.1, what: str = "the condition"):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout:g} s waiting for {what}")


class ThrowawayRedis:
    """redis-server on a free port, started and stopped by the test (same flags as .ci/run)."""

    def __init__(self, directory: Path):
        self.port, self.dir, self.process = free_port(), directory, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")])
        wait_for(self.answers, timeout=10, what="redis-server to answer")

    def answers(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def throwaway_redis(tmp_path):
    if not shutil.which("redis-server"):
        missing("redis-server")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = ThrowawayRedis(directory)
    server.start()
    yield server
    server.stop()


@contextmanager
def celery_on(broker_url: str):
    """The project's Celery settings, not eager, on ``broker_url``; current while the block runs,
    so ``task.apply_async`` (shared tasks) publish there."""
    from soc2hub.celery import app as project_app

    app = Celery("soc2hub-reliability-test")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(broker_url=broker_url, result_backend=None, task_always_eager=False,
                    broker_transport_options={"visibility_timeout": settings.JOB_VISIBILITY_TIMEOUT,
                                              "socket_connect_timeout": 2})
    app.set_current()
    app.set_default()
    try:
        yield app
    finally:
        app.close()
        project_app.set_current()
        project_app.set_default()


class Workers:
    """``celery -A soc2hub worker --pool=solo`` processes on the test database and media root."""

    def __init__(self, broker_url: str, log_dir: Path):
        self.broker_url, self.log_dir, self.processes = broker_url, log_dir, []

    def env(self) -> dict:
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.postgresql":
            missing("PostgreSQL (set DATABASE_URL): the worker process shares the test database")
        user = db.get("USER") or ""
        auth = f"{user}:{db['PASSWORD']}@" if db.get("PASSWORD") else (f"{user}@" if user else "")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}",
            "REDIS_URL": self.broker_url,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "SOC2HUB_VAR_DIR": str(self.log_dir / "var"),
            "CELERY_SKIP_CHECKS": "1",
        })
        return env

    def start(self) -> subprocess.Popen:
        n = len(self.processes) + 1
        log = open(self.log_dir / f"worker-{n}.log", "ab")  # noqa: SIM115  (closed with the process)
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "soc2hub", "worker", "--pool=solo", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat", f"--hostname=test{n}@%h"],
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        process.log = log
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen):
        """SIGKILL: no shutdown, no ack, no clean-up: what an out-of-memory kill does."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def log(self) -> str:
        return "\n".join((self.log_dir / f"worker-{n}.log").read_text(errors="replace")[-3000:]
                         for n in range(1, len(self.processes) + 1))

    def stop_all(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)
            process.log.close()


@pytest.fixture
def workers(throwaway_redis, tmp_path):
    pool = Workers(throwaway_redis.url, tmp_path)
    yield pool
    pool.stop_all()
    connections.close_all()
