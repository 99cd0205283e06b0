from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from soc2hub.auth import unused_recovery_codes
from soc2hub.demo import DEMO_ADMIN, seed_demo
from soc2hub.models import User


class Command(BaseCommand):
    help = "Create the demo organisation (teams, people, owners, controls). Idempotent: never changes what exists."

    def handle(self, *args, **options):
        try:
            result = seed_demo()
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        if result.created:
            self.stdout.write(self.style.SUCCESS(f"Demo organisation: created {len(result.created)} objects."))
        else:
            self.stdout.write("Demo organisation already in place; nothing changed.")
        self.stdout.write("")
        self.stdout.write("Demo logins (password for all: %s)" % settings.DEMO_PASSWORD)
        for user in result.users:
            roles = ", ".join(sorted(user.group_names())) or "team member"
            teams = ", ".join(t.name for t in user.teams.all()) or "—"
            self.stdout.write(f"  {user.username:<12} {roles:<12} teams: {teams}")
        self.stdout.write(f"  {DEMO_ADMIN:<12} superuser    (setup: accounts, groups, passwords)")
        people = [*result.users, *User.objects.filter(username=DEMO_ADMIN)]
        with_codes = [(user, codes) for user in people if (codes := unused_recovery_codes(user))]
        if with_codes:
            self.stdout.write("")
            self.stdout.write("Two-factor authentication is on for these people. After the password, enter the code "
                              "an authenticator app shows for the demo key")
            self.stdout.write(f"  {settings.DEMO_TOTP_SECRET}")
            self.stdout.write("or one of their one-time recovery codes:")
            for user, codes in with_codes:
                self.stdout.write(f"  {user.username:<12} {' '.join(codes[:3])}")
