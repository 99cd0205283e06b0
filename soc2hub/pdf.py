"""PDFs from HTML templates in ``templates/reports/``, rendered by WeasyPrint."""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML


def render_pdf(template: str, context: dict) -> bytes:
    html = render_to_string(template, {"generated_at": timezone.now(), "site_url": settings.SITE_URL, **context})
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
