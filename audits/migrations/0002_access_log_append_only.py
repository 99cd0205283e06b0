"""The auditor access log refuses changes in the database too, as the activity log does
(see ``soc2hub.append_only``)."""

from django.db import migrations

from soc2hub.append_only import append_only


class Migration(migrations.Migration):
    dependencies = [("audits", "0001_initial")]

    operations = [append_only("audits_auditoraccess")]
