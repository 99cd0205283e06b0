from django.db.models import Prefetch

from controls.models import Control, Criterion
from exceptions import selectors, services
from exceptions.models import ExceptionSignature
from exceptions.signers import required_signer_roles
from soc2hub.pdf import render_pdf


def exception_pdf(exception) -> bytes:
    """One exception with its content hash and signature block."""
    signatures = [s for s in exception.signatures.all() if s.version == exception.version and not s.voided_at]
    return render_pdf("reports/exception.html", {
        "exception": exception,
        "content": exception.signed_content(),
        "content_sha256": exception.content_sha256(),
        "signatures": signatures,
        "required_roles": required_signer_roles(exception),
        "roles_without_signer": selectors.signer_labels(services.roles_without_signer(exception)),
    })


def register_pdf(queryset, *, user) -> bytes:
    exceptions = list(queryset.prefetch_related(
        Prefetch("controls", queryset=Control.objects.only("id", "ref").order_by("ref")),
        Prefetch("criteria", queryset=Criterion.objects.only("id", "code", "sort_order").order_by("sort_order")),
        Prefetch("signatures", queryset=ExceptionSignature.objects.filter(voided_at__isnull=True)
                 .select_related("signer")),
        Prefetch("versions", queryset=selectors.VERSION_AUTHORS),
    ))
    selectors.mark_roles_without_signer(exceptions)
    return render_pdf("reports/exception_register.html", {"exceptions": exceptions, "requested_by": user})
