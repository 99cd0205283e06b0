"""Samples: the auditor picks a population, the system draws a reproducible random sample
(the seed is recorded), and anyone can see the re-draw gives the same items."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from audits import selectors, services
from audits.forms import SampleForm
from audits.models import AuditSample, Population
from audits.views.common import load_audit, paginate, render_audit
from nhi.models import NonHumanIdentity
from soc2hub import permissions
from soc2hub.forms import add_service_errors


@login_required
def sample_list(request, audit_id):
    audit = load_audit(request, audit_id)
    return render_audit(request, "audits/sample_list.html", audit, "samples", {
        "page": paginate(request, selectors.samples(audit)),
        "can_sample": permissions.can(request.user, permissions.SAMPLE, audit),
    })


@login_required
def sample_new(request, audit_id):
    audit = load_audit(request, audit_id)
    permissions.require(request.user, permissions.SAMPLE, audit)
    form = SampleForm(request.POST or None, audit=audit)
    if request.method == "POST" and form.is_valid():
        try:
            sample = services.audit_sample_create(audit=audit, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Drew {len(sample.selected_ids)} of {sample.population_size} with seed "
                                      f"{sample.seed}.")
            return redirect(sample)
    return render_audit(request, "audits/sample_form.html", audit, "samples", {"form": form},
                        status=400 if form.errors else 200)


def _items(audit, sample: AuditSample) -> list:
    """The selected rows, in the order they were drawn. A row the audit no longer covers (or
    that was deleted) is listed by its id alone."""
    ids = sample.selected_ids
    if sample.population == Population.TEMPLATE_REQUESTS:
        rows = selectors.evidence_requests(audit).filter(pk__in=ids)
    elif sample.population == Population.CONTROL_EVIDENCE:
        rows = selectors.evidence_files(audit).filter(pk__in=ids)
    else:
        rows = NonHumanIdentity.objects.filter(pk__in=ids).select_related("owner_team")
    found = {row.pk: row for row in rows}
    return [(pk, found.get(pk)) for pk in ids]


@login_required
def sample_detail(request, audit_id, pk):
    audit = load_audit(request, audit_id)
    sample = selectors.sample(audit, pk)
    redrawn = services.sample_draw(sample.population_ids, sample.size, sample.seed)
    return render_audit(request, "audits/sample_detail.html", audit, "samples", {
        "sample": sample, "items": _items(audit, sample), "redrawn": redrawn,
        "verified": redrawn == sample.selected_ids,
    })
