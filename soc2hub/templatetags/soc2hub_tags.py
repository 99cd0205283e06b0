from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``{{ dict|get_item:key }}`` — look up a key chosen at render time."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def get_item_attr(obj, name):
    """``{{ obj|get_item_attr:name }}`` — an attribute chosen at render time."""
    return getattr(obj, name, None)


@register.filter
def make_list_words(value: str) -> list[str]:
    return value.split()


@register.filter
def field_named(form, name):
    """The bound field ``name`` of ``form``."""
    return form[name]


@register.filter
def add_class(field, extra: str):
    """Render a form field with Bootstrap's class for its widget, plus ``extra``."""
    widget = field.field.widget
    if getattr(widget, "input_type", None) == "checkbox":
        base = "form-check-input"
    elif widget.__class__.__name__ in ("Select", "SelectMultiple", "NullBooleanSelect"):
        base = "form-select"
    else:
        base = "form-control"
    attrs = {"class": f"{base} {extra}".strip()}
    described = [f"{field.auto_id}_help"] if field.help_text else []
    if field.errors:
        described.append(f"{field.auto_id}_errors")
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return field.as_widget(attrs=attrs)


@register.filter
def days_until(request, today):
    """Days from ``today`` to the request's due date (negative when late)."""
    return request.days_until_due(today)


@register.filter
def absval(value):
    return abs(value)


@register.filter
def filesize(num: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if num < 1024 or unit == "GB":
            return f"{num:.0f} {unit}" if unit == "bytes" else f"{num:.1f} {unit}"
        num /= 1024
    return str(num)


VERB_LABELS = {
    "evidence_request.opened": "opened the request",
    "evidence.returned": "returned it",
    "evidence_request.before_due": "sent a reminder",
    "evidence_request.due_today": "sent a due-today reminder",
    "evidence_request.escalation": "escalated it as overdue",
    "evidence.submitted": "submitted evidence",
    "evidence.approved": "approved the evidence",
    "evidence.downloaded": "downloaded a file",
}


@register.filter
def verb_label(verb: str) -> str:
    return VERB_LABELS.get(verb, verb)


@register.filter
def days_to_expiry(exception, today):
    return exception.days_to_expiry(today)
