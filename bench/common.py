"""What generate.py and run.py share: where the benchmark's database and files live, and
pointing Django at them before anything reads the settings.

The benchmark never touches the developer's database. Its default is a SQLite file under
``var/bench/``; a PostgreSQL URL must name a database whose name contains ``bench``
(``soc2hub_bench`` by default), because generate.py drops and re-creates it.
"""

import os
import sqlite3
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
BENCH_VAR = REPO / "var" / "bench"
DEFAULT_SQLITE_URL = f"sqlite:///{BENCH_VAR / 'soc2hub_bench.sqlite3'}"
SHARED_FILE_NAME = "bench/shared-evidence.csv"  # relative to the bench MEDIA_ROOT


class BenchDatabase:
    """One benchmark database, SQLite file or PostgreSQL database, that may be dropped,
    created and cloned (run.py measures a throw-away clone, so it can be run again)."""

    def __init__(self, url: str):
        self.url = url
        parts = urlsplit(url)
        self.parts = parts
        if parts.scheme in ("sqlite", "sqlite3"):
            self.vendor = "sqlite"
            # sqlite:////absolute/path or sqlite:///relative/path (relative to the working
            # directory, as django-environ reads it); always handed to Django as absolute.
            rest = url.split("://", 1)[1]
            self.path = Path(rest[1:]).resolve()
            self.url = f"sqlite:///{self.path}"
            self.name = self.path.name
        elif parts.scheme in ("postgres", "postgresql", "pgsql", "psql"):
            self.vendor = "postgresql"
            self.name = parts.path.lstrip("/")
        else:
            raise SystemExit(f"Unsupported database URL {url!r}: use sqlite:///... or postgres://...")
        if "bench" not in self.name:
            raise SystemExit(
                f"Refusing to use database {self.name!r}: the benchmark drops and re-creates its database, "
                "so its name must contain 'bench' (e.g. soc2hub_bench)."
            )

    def __str__(self):
        if self.vendor == "sqlite":
            return str(self.path)
        return urlunsplit(self.parts._replace(netloc=self._host()))  # without the user name

    def _host(self):
        return self.parts.hostname + (f":{self.parts.port}" if self.parts.port else "")

    # --- PostgreSQL maintenance, through the server's ``postgres`` database ----------------
    def _maintenance(self):
        import psycopg

        url = urlunsplit(self.parts._replace(scheme="postgresql", path="/postgres"))
        return psycopg.connect(url, autocommit=True)

    def recreate(self) -> None:
        """Drop the database if it exists and create it empty."""
        if self.vendor == "sqlite":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return
        with self._maintenance() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def exists(self) -> bool:
        if self.vendor == "sqlite":
            return self.path.exists()
        with self._maintenance() as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.name]).fetchone()
            return row is not None

    def clone(self, suffix: str = "_run") -> "BenchDatabase":
        """A fresh copy of this database (SQLite: the backup API; PostgreSQL: CREATE DATABASE
        ... TEMPLATE, a file-level copy), to measure on and throw away."""
        if self.vendor == "sqlite":
            target_path = self.path.with_name(self.path.stem + suffix + self.path.suffix)
            copy = BenchDatabase(f"sqlite:///{target_path}")
            copy.recreate()
            src, dst = sqlite3.connect(self.path), sqlite3.connect(target_path)
            with dst:
                src.backup(dst)
            src.close()
            dst.close()
            return copy
        copy = BenchDatabase(urlunsplit(self.parts._replace(path=f"/{self.name}{suffix}")))
        with self._maintenance() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{copy.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{copy.name}" TEMPLATE "{self.name}"')
        return copy

    def drop(self) -> None:
        if self.vendor == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return
        with self._maintenance() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def setup_django(db: BenchDatabase) -> None:
    """Point every setting that names a place at the benchmark's, then start Django.

    Settings are read from the environment when ``soc2hub.settings`` is imported, so this
    must run before anything imports Django models or settings.
    """
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "soc2hub.settings"
    os.environ["DATABASE_URL"] = db.url
    os.environ["SOC2HUB_VAR_DIR"] = str(BENCH_VAR)
    os.environ["MEDIA_ROOT"] = str(BENCH_VAR / "media")
    os.environ["EMAIL_URL"] = "memorymail://"  # locmem: mail is built, never sent
    os.environ["DEBUG"] = "true"  # static files without a collectstatic manifest; run.py turns DEBUG off
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    for name in ("REDIS_URL", "AWS_STORAGE_BUCKET_NAME"):  # nothing leaves the machine
        os.environ.pop(name, None)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))

    import django

    django.setup()


def open_clone(database_url: str, *, generator: str) -> tuple[BenchDatabase, BenchDatabase]:
    """Clone the generated benchmark database and start Django on the clone, so a measuring
    run never changes what ``generator`` built. Returns ``(source, clone)``."""
    import warnings

    source = BenchDatabase(database_url)
    if not source.exists():
        raise SystemExit(f"No benchmark database at {source}: run bench/{generator} first.")
    db = source.clone()
    print(f"Measuring a clone of {source}: {db}", flush=True)
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic here
    setup_django(db)
    return source, db
