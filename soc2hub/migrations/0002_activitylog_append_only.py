"""The activity log refuses changes at the database too, not only in the ORM
(see ``soc2hub.append_only``)."""

from django.db import migrations

from soc2hub.append_only import append_only


class Migration(migrations.Migration):
    dependencies = [("soc2hub", "0001_initial")]

    operations = [append_only("soc2hub_activitylog")]
