"""Runs the test identity provider (``tests.idp``) in a process of its own: gunicorn on
127.0.0.1 and a free port, its own SQLite file, started once per test session.

    idp = Idp.launch(workdir)          # migrate, add clients and people, start, wait until it answers
    idp.apply(users=[{"username": "alice", "groups": ["eng"]}])   # an IdP admin's change
    idp.stop()

``Idp.launch(workdir, database=other.database, env={...})`` starts a second instance on the
same data with other settings (``IDP_IDTOKEN_EXPIRE``, ``IDP_TOKEN_DELAY``).
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
SETTINGS = "tests.idp.settings"


class IdpError(RuntimeError):
    """The identity provider could not be prepared or did not start."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Idp:
    def __init__(self, workdir: Path, database: Path, env: dict[str, str] | None = None):
        self.workdir = workdir
        self.database = database
        self.extra_env = env or {}
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.log = workdir / "idp.log"

    # --- life cycle -------------------------------------------------------------------------

    @classmethod
    def launch(cls, workdir: Path, *, database: Path | None = None, env: dict[str, str] | None = None,
               state: dict | None = None, timeout: float = 30) -> "Idp":
        idp = cls(workdir, database or workdir / "idp.sqlite3", env)
        if database is None:
            idp.manage("migrate", "--noinput")
        if state:
            idp.apply(**state)
        idp.start(timeout=timeout)
        return idp

    def environ(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "IDP_"))}
        return {**env, **self.extra_env, "DJANGO_SETTINGS_MODULE": SETTINGS, "IDP_DATABASE": str(self.database),
                "PYTHONPATH": str(REPO)}

    def manage(self, *args: str, input: str | None = None) -> str:
        """Runs a management command in the IdP's environment and returns what it printed."""
        done = subprocess.run([sys.executable, "-m", "django", *args], cwd=REPO, env=self.environ(),
                              input=input, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise IdpError(f"manage.py {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def start(self, timeout: float = 30) -> None:
        self.port = _free_port()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "tests.idp.wsgi:application",
                 "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "8",
                 "--log-level", "warning", "--graceful-timeout", "2"],
                cwd=REPO, env=self.environ(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise IdpError(f"gunicorn exited with {self.process.returncode}: {self._log_tail()}")
            try:
                if requests.get(self.discovery_url, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise IdpError(f"no answer at {self.discovery_url} after {timeout:.0f} s: {self._log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else "(no log)"

    # --- addresses --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/openid"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # --- what an IdP administrator does -------------------------------------------------------

    def apply(self, *, clients: list[dict] | None = None, users: list[dict] | None = None) -> None:
        """Creates or changes clients and people (see ``idp_apply``)."""
        self.manage("idp_apply", input=json.dumps({"clients": clients or [], "users": users or []}))

    def set_groups(self, username: str, groups: list[str]) -> None:
        self.apply(users=[{"username": username, "groups": groups}])

    def disable(self, username: str) -> None:
        self.apply(users=[{"username": username, "active": False}])
