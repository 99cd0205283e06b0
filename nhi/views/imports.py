"""The import wizard: upload, watch the dry run, read the preview, apply (all or nothing)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from nhi import imports
from nhi.forms import ImportForm
from nhi.models import NhiImport
from soc2hub import permissions
from soc2hub.forms import add_service_errors


@login_required
def import_list(request):
    permissions.require(request.user, permissions.IMPORT, NhiImport)
    page = Paginator(NhiImport.objects.select_related("created_by"), 25).get_page(request.GET.get("page"))
    return render(request, "nhi/import_list.html", {"page": page})


@login_required
def import_create(request):
    permissions.require(request.user, permissions.IMPORT, NhiImport)
    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    refused = getattr(request, "upload_refused", None)
    if refused:
        form.is_valid()
        form.add_error("file", refused)
    elif request.method == "POST" and form.is_valid():
        try:
            imp = imports.import_create(actor=request.user, format=form.cleaned_data["format"],
                                        upload=form.cleaned_data["file"],
                                        default_team=form.cleaned_data["default_team"],
                                        default_environment=form.cleaned_data["default_environment"])
            return redirect(imp)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return render(request, "nhi/import_form.html", {"form": form}, status=400 if form.errors else 200)


def _get_import(request, pk) -> NhiImport:
    permissions.require(request.user, permissions.IMPORT, NhiImport)
    return get_object_or_404(NhiImport.objects.select_related("created_by", "default_team"), pk=pk)


@login_required
def import_detail(request, pk):
    return render(request, "nhi/import_detail.html", {"imp": _get_import(request, pk)})


@login_required
def import_progress(request, pk):
    """The part of the page that htmx polls while the check or the apply runs."""
    return render(request, "nhi/partials/import_progress.html", {"imp": _get_import(request, pk)})


def _import_move(request, pk, *, service, done: str):
    """Apply or discard: call the service, say what happened, back to the import's page."""
    imp = _get_import(request, pk)
    try:
        service(imp=imp, actor=request.user)
        messages.success(request, done)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(imp)


@login_required
@require_POST
def import_apply(request, pk):
    return _import_move(request, pk, service=imports.import_apply,
                        done="Applying the import. This page updates as it goes.")


@login_required
@require_POST
def import_discard(request, pk):
    return _import_move(request, pk, service=imports.import_discard,
                        done="Import discarded; its file was removed. Nothing was written.")
