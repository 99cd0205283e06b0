"""The test suite's settings: soc2hub.settings, run as a local server (SOC2HUB_LOCAL: plain
HTTP on loopback, static files from the source tree) with a throwaway secret key, so a test
run needs no configuration and writes nothing under var/. DEBUG stays off, as in production.

pytest-django imports this before any conftest, which is why it is a module and not a
fixture. Anything already in the environment wins.
"""

import os
import secrets

os.environ.setdefault("SOC2HUB_LOCAL", "true")
os.environ.setdefault("SECRET_KEY", f"tests-{secrets.token_urlsafe(48)}")

from soc2hub.settings import *  # noqa: E402,F403
