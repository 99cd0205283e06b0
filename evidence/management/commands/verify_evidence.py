"""python manage.py verify_evidence [--team SLUG] [--since YYYY-MM-DD] [--every N]

Re-hashes every stored evidence file (and finished audit report) and compares it with the SHA-256
recorded when it was stored. Exits 1 when any file changed, is missing or cannot be read; run it
after restoring a backup (docs/operations.md).
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from evidence.verification import MISMATCH, MISSING, stored_files_verify
from soc2hub.models import Team


class Command(BaseCommand):
    help = "Re-hash every stored evidence file and report any whose SHA-256 changed or that is missing."

    def add_arguments(self, parser):
        parser.add_argument("--team", help="only the evidence of this team's requests (its slug)")
        parser.add_argument("--since", type=dt.date.fromisoformat, help="only files stored on or after YYYY-MM-DD")
        parser.add_argument("--every", type=int, default=100, help="print progress every N files (default 100)")

    def handle(self, *args, team=None, since=None, every=100, **options):
        if team and not Team.objects.filter(slug=team).exists():
            raise CommandError(f"No team has the slug {team!r}.")
        on_tty = self.stdout.isatty()
        every = max(every, 1)

        def progress(checked, total):
            if on_tty:
                self.stdout.write(f"\r{checked}/{total} files checked", ending="")
                self.stdout.flush()
            elif checked % every == 0 or checked == total:
                self.stdout.write(f"{checked}/{total} files checked")

        result = stored_files_verify(team=team, since=since, progress=progress)
        if on_tty and result.checked:
            self.stdout.write("")
        for problem in result.problems:
            self.stderr.write(self.style.ERROR(
                {MISMATCH: "CHANGED", MISSING: "MISSING"}.get(problem.kind, "UNREADABLE") + f"  {problem.describe()}"
            ))
        if not result.ok:
            raise CommandError(result.summary())  # exit status 1
        self.stdout.write(self.style.SUCCESS(result.summary()))
