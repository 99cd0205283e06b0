"""Applying a list's filters so that one unreadable value drops only itself."""

from django.db.models import QuerySet


def apply_filters(filterset_class, data, queryset: QuerySet):
    """Return ``(filterset, rows)``. The filterset keeps its errors for the page to show; the
    rows honour every filter that could be read, not none of them."""
    filterset = filterset_class(data or None, queryset=queryset)
    if not filterset.is_bound:
        return filterset, queryset
    if filterset.is_valid():
        return filterset, filterset.qs
    readable = data.copy()
    for name in filterset.errors:
        readable.pop(name, None)
    retry = filterset_class(readable or None, queryset=queryset)
    return filterset, (retry.qs if retry.is_bound and retry.is_valid() else queryset)
