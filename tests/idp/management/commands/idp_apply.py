"""``manage.py idp_apply < state.json``: what an IdP administrator would do, in one call.

The JSON document may name ``clients`` (client_id, secret, redirect_uris, name) and ``users``
(username, and any of password, first_name, last_name, email, groups, active). Each is created
when missing and otherwise brought to the given state (groups replace the person's groups).
A signing key is created the first time.
"""

import json
import sys

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from oidc_provider.models import Client, ResponseType, RSAKey


class Command(BaseCommand):
    help = "Bring the IdP's clients and people to the state described by JSON on stdin."

    @transaction.atomic
    def handle(self, *args, **options):
        state = json.load(sys.stdin)
        if not RSAKey.objects.exists():
            call_command("creatersakey", stdout=self.stderr)
        for spec in state.get("clients", []):
            client, _ = Client.objects.update_or_create(client_id=spec["client_id"], defaults={
                "name": spec.get("name", spec["client_id"]),
                "client_type": "confidential",
                "client_secret": spec["secret"],
                "jwt_alg": "RS256",
                "require_consent": False,
                "reuse_consent": True,
            })
            client.redirect_uris = spec["redirect_uris"]
            client.save()
            client.response_types.set([ResponseType.objects.get(value="code")])
        for spec in state.get("users", []):
            person, created = User.objects.get_or_create(username=spec["username"])
            for field in ("first_name", "last_name", "email"):
                if field in spec:
                    setattr(person, field, spec[field])
            if "active" in spec:
                person.is_active = spec["active"]
            if "password" in spec:
                person.set_password(spec["password"])
            person.save()
            if "groups" in spec:
                person.groups.set([Group.objects.get_or_create(name=name)[0] for name in spec["groups"]])
        self.stdout.write(json.dumps({"clients": Client.objects.count(), "users": User.objects.count()}))
