import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from soc2hub import jobs


class Command(BaseCommand):
    help = ("Run the daily jobs the beat schedule runs (opening requests, reminders, digests, ...), each once "
            "a day: a job already done for the day is skipped, a failed one is tried again. Exits non-zero "
            "when a job failed.")

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="run as if today were this date (YYYY-MM-DD), e.g. to catch up")
        parser.add_argument("--only", action="append", help="run only this job (repeatable)")
        parser.add_argument("--force", action="store_true",
                            help="run jobs already done (or out of attempts) for the day again")

    def handle(self, *args, as_of=None, only=None, force=False, **options):
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
        outcomes = jobs.run_daily_jobs(day, only=only, force=force)
        for name, outcome in outcomes.items():
            self.stdout.write(f"{name}: {self._describe(outcome)}")
        failed = jobs.failed_jobs(outcomes)
        if failed:
            raise CommandError(f"{len(failed)} daily job{'s' if len(failed) != 1 else ''} failed: "
                               f"{', '.join(failed)} (see /jobs/)")

    @staticmethod
    def _describe(outcome: dict) -> str:
        status = outcome["status"]
        if status == "skipped":
            return f"skipped, {outcome['reason']}"
        if status == "failed":
            return f"FAILED (attempt {outcome['attempt']}): {outcome['error']}" + (
                f" — {outcome['reason']}" if "reason" in outcome else "")
        figures = ", ".join(f"{k}={v}" for k, v in outcome.items() if k not in ("status", "seconds"))
        return f"done in {outcome['seconds']} s" + (f" ({figures})" if figures else "")
