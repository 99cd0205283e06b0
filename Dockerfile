# soc2hub: one image for the web server, the Celery worker and Celery beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# WeasyPrint renders the PDF reports with Pango and HarfBuzz; DejaVu gives it a font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 1000 soc2hub \
    && useradd --system --uid 1000 --gid soc2hub --home-dir /app --shell /usr/sbin/nologin soc2hub

WORKDIR /app

# Dependencies first, in their own layer, so a code change doesn't reinstall them: the exact
# versions and hashes of the runtime lock (`make lock` writes it from pyproject.toml).
COPY requirements/base.txt /tmp/requirements.txt
RUN pip install --require-hashes -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# Editable, because settings find templates/ and static/ beside the packages (BASE_DIR),
# and those are not part of the installed distribution.
RUN pip install --no-deps -e .

# Static files are built into the image, so every container serves the same ones
# (WhiteNoise, compressed and with hashed names). Settings need a non-development key
# when DEBUG is off; this one exists only for this build step.
RUN DEBUG=false SECRET_KEY=collectstatic-at-build-time-only-not-a-runtime-secret \
        python manage.py collectstatic --noinput --verbosity 0

# Uploads live on the media volume; a new named volume copies this directory's owner.
RUN mkdir -p /data/media /app/var \
    && chown soc2hub:soc2hub /data/media /app/var

USER soc2hub
EXPOSE 8000
CMD ["gunicorn", "soc2hub.wsgi:application", "--bind=0.0.0.0:8000", "--workers=3", "--access-logfile=-"]
