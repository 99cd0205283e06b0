import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soc2hub.settings")

app = Celery("soc2hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
