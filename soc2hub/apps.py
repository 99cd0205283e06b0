from django.apps import AppConfig
from django.db.models.signals import post_migrate

DAILY_TASK_NAME = "soc2hub: daily jobs"
EMAIL_SWEEP_TASK_NAME = "soc2hub: e-mail sweeper"


def ensure_daily_schedule(sender, **kwargs):
    """Create the beat entry for the daily jobs once; later changes (the hour) are made in the
    admin and never overwritten here."""
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if PeriodicTask.objects.filter(name=DAILY_TASK_NAME).exists():
        return
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour=str(settings.DAILY_JOBS_HOUR), day_of_week="*", day_of_month="*", month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.create(name=DAILY_TASK_NAME, task="soc2hub.tasks.run_daily_jobs", crontab=schedule)


def ensure_email_sweep_schedule(sender, **kwargs):
    """Create the beat entry that queues again, every minute, the e-mails whose task was lost;
    once, like the daily jobs' entry."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if PeriodicTask.objects.filter(name=EMAIL_SWEEP_TASK_NAME).exists():
        return
    schedule, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=EMAIL_SWEEP_TASK_NAME, task="soc2hub.tasks.notification_emails_sweep",
                                interval=schedule)


JOB_SWEEP_TASK_NAME = "soc2hub: job sweeper"


def ensure_job_sweep_schedule(sender, **kwargs):
    """Create the beat entry that re-queues orphaned jobs every minute (soc2hub.jobqueue); once,
    like the daily jobs' entry, so a change made in the admin stays."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if PeriodicTask.objects.filter(name=JOB_SWEEP_TASK_NAME).exists():
        return
    schedule, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=JOB_SWEEP_TASK_NAME, task="soc2hub.tasks.sweep_jobs", interval=schedule)


class Soc2hubConfig(AppConfig):
    name = "soc2hub"
    verbose_name = "Organisation"

    def ready(self):
        post_migrate.connect(ensure_daily_schedule, sender=self)
        post_migrate.connect(ensure_job_sweep_schedule, sender=self)
        post_migrate.connect(ensure_email_sweep_schedule, sender=self)
        from soc2hub.admin_rights import security_admin_rights_ensure

        # Connected for every app's migrate (no sender): permissions of apps migrated after
        # soc2hub exist only by then.
        post_migrate.connect(security_admin_rights_ensure, dispatch_uid="soc2hub.security_admin_rights")
        from soc2hub import signals  # noqa: F401  (sign-in events on the record)
        from soc2hub import sso  # noqa: F401  (checks OIDC_GROUP_MAP at start-up)
