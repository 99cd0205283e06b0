"""A team's due dates as an iCalendar feed (RFC 5545), for Outlook, Google Calendar and friends."""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from evidence.models import EvidenceRequest, EvidenceTemplate
from evidence.services import template_year_ahead

PAST_DAYS = 31


def team_calendar(team) -> bytes:
    """All-day events on each due date: requests already open (with their status) and the
    periods still to come in the next year, so the team sees its whole year ahead."""
    today = timezone.localdate()
    cal = Calendar()
    cal.add("prodid", "-//soc2hub//evidence due dates//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{team.name} — SOC 2 evidence due")
    opened = set()
    for request in (EvidenceRequest.objects.filter(owner_team=team, due_on__gte=today - dt.timedelta(days=PAST_DAYS))
                    .select_related("control")):
        opened.add((request.template_id, request.period_start))
        cal.add_component(_event(
            uid=f"evidence-request-{request.pk}@soc2hub",
            day=request.due_on,
            summary=f"{'OVERDUE: ' if request.is_overdue(today) else ''}{request.title} ({request.period_label}) due",
            description=(f"Control {request.control.ref}. " if request.control_id else "") + f"Status: {request.get_status_display()}.",
            url=f"{settings.SITE_URL}{request.get_absolute_url()}",
        ))
    for template in EvidenceTemplate.objects.filter(owner_team=team, is_active=True).select_related("control"):
        for period, _opens_on, due_on in template_year_ahead(template, today=today):
            if (template.pk, period.start) in opened:
                continue
            cal.add_component(_event(
                uid=f"evidence-template-{template.pk}-{period.start.isoformat()}@soc2hub",
                day=due_on,
                summary=f"{template.title} ({period.label}) due",
                description=f"Control {template.control.ref}. Opens {_opens_on:%d %b %Y}.",
                url=f"{settings.SITE_URL}{template.get_absolute_url()}",
            ))
    return cal.to_ical()


def _event(*, uid: str, day: dt.date, summary: str, description: str, url: str) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", timezone.now())
    event.add("dtstart", day)
    event.add("dtend", day + dt.timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("url", url)
    event.add("transp", "TRANSPARENT")
    return event
