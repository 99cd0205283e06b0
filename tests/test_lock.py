"""The lock: every dependency pyproject.toml names is pinned exactly (with hashes) in requirements/,
and `make install`/`install-test` and the Dockerfile install from it."""

import re
import shutil
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(r) for r in PYPROJECT["dependencies"]]
TEST_EXTRA = [Requirement(r) for r in PYPROJECT["optional-dependencies"]["test"]]
LOCK_BASE = ROOT / "requirements" / "base.txt"
LOCK_TEST = ROOT / "requirements" / "test.txt"


def read_lock(path):
    """{canonical name: version} of a requirements file, which must hold only `name==version` lines, each hashed."""
    text = path.read_text()
    # One entry per requirement: its line, then its --hash continuation lines.
    entries = re.split(r"\n(?=[^\s#])", re.sub(r"^#.*\n", "", text, flags=re.M).strip())
    pins = {}
    for entry in entries:
        requirement = Requirement(entry.split("\\", 1)[0].split(" #", 1)[0].strip())
        name = canonicalize_name(requirement.name)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{path.name}: {entry.splitlines()[0]}"
        assert "--hash=sha256:" in entry, f"{path.name}: {name} has no hash"
        assert name not in pins, f"{path.name}: {name} pinned twice"
        pins[name] = specifiers[0].version
    return pins


@pytest.fixture(scope="module")
def base():
    return read_lock(LOCK_BASE)


@pytest.fixture(scope="module")
def test_lock():
    return read_lock(LOCK_TEST)


def assert_pinned(requirements, pins, lock_name):
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} (pyproject.toml) is not in {lock_name}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock_name} pins {name}=={pins[name]}, outside pyproject.toml's {requirement}: run `make lock`"
        )
        # What an extra such as psycopg[binary] adds must be locked too.
        for extra in requirement.extras:
            for dependency in metadata.requires(requirement.name) or ():
                dependency = Requirement(dependency)
                if dependency.marker and dependency.marker.evaluate({"extra": extra}) and not (
                    dependency.marker.evaluate({"extra": ""})
                ):
                    assert canonicalize_name(dependency.name) in pins, (
                        f"{dependency.name} ({requirement.name}[{extra}]) is not in {lock_name}: run `make lock`"
                    )


def test_runtime_dependencies_are_pinned_in_both_locks(base, test_lock):
    assert_pinned(RUNTIME, base, "requirements/base.txt")
    assert_pinned(RUNTIME, test_lock, "requirements/test.txt")


def test_test_extra_is_pinned_in_the_test_lock(test_lock):
    assert_pinned(TEST_EXTRA, test_lock, "requirements/test.txt")


def test_test_lock_holds_the_runtime_lock_versions(base, test_lock):
    differing = {name: (version, test_lock.get(name)) for name, version in base.items() if test_lock.get(name) != version}
    assert not differing, f"requirements/test.txt differs from base.txt (base, test): {differing}"


def test_dockerfile_installs_the_runtime_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = re.search(r"^COPY requirements/base\.txt (\S+)", dockerfile, re.M)
    assert copied, "the Dockerfile does not copy requirements/base.txt"
    installs = re.findall(r"pip install ([^\n]*)", dockerfile)
    assert any("--require-hashes" in line and f"-r {copied.group(1)}" in line for line in installs), installs
    # Everything else it installs is soc2hub itself, without resolving dependencies again.
    assert all(f"-r {copied.group(1)}" in line or "--no-deps" in line for line in installs), installs
    assert not re.search(r"^requirements\b", (ROOT / ".dockerignore").read_text(), re.M)


def make_dry_run(venv, *args):
    """The commands `make` would run (make -n) against a stand-in virtualenv."""
    assert shutil.which("make"), "make is needed (it runs the tests too)"
    result = subprocess.run(["make", "-n", f"VENV={venv}", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture
def installed_venv(tmp_path):
    """A stand-in .venv whose python exists and whose install stamps are newer than the lock."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / ".installed").touch()
    (venv / ".installed-test").touch()
    return venv


@pytest.mark.parametrize(
    ("target", "stamp", "lock"),
    [("install", ".installed", "requirements/base.txt"), ("install-test", ".installed-test", "requirements/test.txt")],
)
def test_make_installs_from_the_lock_when_it_changes(installed_venv, target, stamp, lock):
    # Up to date: nothing to do.
    assert "pip" not in make_dry_run(installed_venv, target)
    # The lock changed (-W: as if just modified): reinstall from it, then soc2hub without dependencies.
    commands = make_dry_run(installed_venv, "-W", lock, target)
    installs = [line for line in commands.splitlines() if " pip " in line and " install " in line]
    assert len(installs) == 2, commands
    assert "--require-hashes" in installs[0] and f"-r {lock}" in installs[0], installs[0]
    assert "--no-deps" in installs[1] and "-e ." in installs[1], installs[1]
    assert "touch" in commands and stamp in commands
