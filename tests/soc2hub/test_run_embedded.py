"""``make run``'s runner (bin/run-embedded): its Celery worker is started again when it dies, and
Ctrl-C stops the server, the supervisor and the worker. Run for real: the script, runserver and
a worker with embedded beat on the filesystem broker and the test database."""

import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import missing
from tests.services import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent.parent


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (killed, not yet reaped by the supervisor) is not a worker.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


def worker_pid(var: Path) -> int | None:
    try:
        pid = int((var / "worker.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_is_started_again_and_ctrl_c_stops_everything(tmp_path):
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        missing("PostgreSQL (set DATABASE_URL): the runner's processes share the test database")
    if not (ROOT / ".venv" / "bin" / "celery").exists():
        missing("the project's .venv (make run installs it)")
    var, port = tmp_path / "var", free_port()
    user = f"{db['USER']}@" if db.get("USER") else ""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST_", "REDIS_", "DJANGO_"))}
    env.update(SOC2HUB_VAR_DIR=str(var), PORT=str(port), MEDIA_ROOT=str(tmp_path / "media"),
               DATABASE_URL=f"postgres://{user}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}")
    runner = subprocess.Popen([str(ROOT / "bin" / "run-embedded")], cwd=ROOT, env=env, start_new_session=True,
                              stdout=open(tmp_path / "runner.log", "wb"), stderr=subprocess.STDOUT)
    log = lambda: (tmp_path / "runner.log").read_text(errors="replace")[-3000:]  # noqa: E731
    try:
        first = wait_for(lambda: worker_pid(var), timeout=20, what=f"the first worker\n{log()}")
        wait_for(lambda: "ready" in (var / "worker.log").read_text(errors="replace"), timeout=30,
                 what="the first worker to be ready")
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), interval=0.3, timeout=30, what=f"the server\n{log()}")

        os.kill(first, signal.SIGKILL)  # as the out-of-memory killer would
        second = wait_for(lambda: (pid := worker_pid(var)) and pid != first and pid, timeout=15,
                          what=f"a new worker\n{log()}")
        assert not alive(first)
        assert "The Celery worker exited" in log()

        os.killpg(runner.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's foreground group
        assert runner.wait(30) == 0, log()
        assert not alive(second) and not (var / "worker.pid").exists()
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait(10)
        for pid in filter(None, [worker_pid(var)]):
            os.killpg(pid, signal.SIGKILL)
