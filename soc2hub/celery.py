import os

from celery import Celery
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soc2hub.settings")

app = Celery("soc2hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Binds each task's id (and the request id that queued it) to the worker's log lines.
app.steps["worker"].add(DjangoStructLogInitStep)
