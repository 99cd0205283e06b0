import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from soc2hub import jobs


class Command(BaseCommand):
    help = "Run the daily jobs the beat schedule runs (opening requests, reminders, digests, ...). Safe to repeat."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="run as if today were this date (YYYY-MM-DD), e.g. to catch up")
        parser.add_argument("--only", action="append", help="run only this job (repeatable)")

    def handle(self, *args, as_of=None, only=None, **options):
        day = None
        if as_of:
            try:
                day = dt.date.fromisoformat(as_of)
            except ValueError as exc:
                raise CommandError(f"--as-of must be a date as YYYY-MM-DD, not {as_of!r}") from exc
        unknown = set(only or ()) - set(jobs.registered_jobs())
        if unknown:
            raise CommandError(f"unknown job(s): {', '.join(sorted(unknown))}; known: "
                               f"{', '.join(jobs.registered_jobs())}")
        for name, result in jobs.run_daily_jobs(day, only=only).items():
            figures = ", ".join(f"{k}={v}" for k, v in result.items())
            self.stdout.write(f"{name}: {figures}")
