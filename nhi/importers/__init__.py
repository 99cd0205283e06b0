"""One module per source format. Each has ``parse(binary_stream, context=None)`` yielding
``ParsedRow`` / ``RowError`` / ``Skipped`` in file order, ``count_rows(binary_stream)`` for a
progress bar, ``source`` (the natural key's first half) and ``FIRST_LINE`` (where rows start).
See ``nhi.importers.base`` for what they yield and ``nhi.imports`` for how a file is checked
and applied."""

from nhi.importers import aws_credential_report, csv_format, k8s_serviceaccounts
from nhi.importers.base import ImportContext, ImportFormatError, ParsedRow, RowError, Skipped
from nhi.models import ImportFormat

IMPORTERS = {
    ImportFormat.CSV.value: csv_format,
    ImportFormat.AWS.value: aws_credential_report,
    ImportFormat.K8S.value: k8s_serviceaccounts,
}

__all__ = ["IMPORTERS", "ImportContext", "ImportFormatError", "ParsedRow", "RowError", "Skipped"]
