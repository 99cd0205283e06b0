from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery


def backfill(apps, schema_editor):
    """A signature that still stands was given under the recommendation the exception carries
    now: a recommendation is cleared only by a change of content, which voids the signatures.
    Voided signatures keep the blank: what was recommended then is in the activity log."""
    ExceptionRecord = apps.get_model("exceptions", "ExceptionRecord")
    ExceptionSignature = apps.get_model("exceptions", "ExceptionSignature")
    recommendation = ExceptionRecord.objects.filter(pk=OuterRef("exception_id")).values("recommendation")[:1]
    (ExceptionSignature.objects.filter(voided_at__isnull=True, version=F("exception__version"))
     .update(security_recommendation=Subquery(recommendation)))


class Migration(migrations.Migration):

    dependencies = [
        ("exceptions", "0002_exception_nhis"),
    ]

    operations = [
        migrations.AddField(
            model_name="exceptionsignature",
            name="security_recommendation",
            field=models.CharField(
                blank=True, choices=[("approve", "Approve"), ("reject", "Reject")], max_length=10,
                help_text="What Security recommended when this was signed (its recommendation is cleared when the "
                          "content changes; this stays with the signature)."),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
