"""The API's one road for errors: DRF's ``EXCEPTION_HANDLER`` (see settings.REST_FRAMEWORK).

Views call services directly. What a service raises becomes the answer here:

* Django's ``ValidationError`` → 400, keyed by the field the service named
  (``{"field": ["message", ...]}``; ``__all__`` becomes ``non_field_errors``), or
  ``{"non_field_errors": [...]}`` when it named none;
* the same error with code ``storage_full`` → 507 ``{"detail": "..."}`` (the file store had
  no room: not the caller's mistake, and nothing was stored);
* Django's ``PermissionDenied`` → 403 ``{"detail": "<the reason>"}``;
* ``UploadTooLarge`` (raised by the upload views) → 413 ``{"detail": "..."}``;

then DRF's own handler answers, as for every other exception.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

# A service's ValidationError with this code means the file store had no room (evidence.storage).
STORAGE_FULL = "storage_full"


class InsufficientStorage(exceptions.APIException):
    status_code = 507
    default_code = STORAGE_FULL


class UploadTooLarge(exceptions.APIException):
    """An upload stopped while it streamed in (see soc2hub.uploads): 413 with the reason."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"


def as_drf_error(exc: DjangoValidationError) -> exceptions.APIException:
    """A service's ValidationError as DRF's: 400 keyed by field, or 507 when storage is full."""
    if getattr(exc, "code", None) == STORAGE_FULL:
        return InsufficientStorage(exc.messages[0])
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field: messages
                                           for field, messages in exc.message_dict.items()})
    return exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.messages})


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = as_drf_error(exc)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    return drf_exception_handler(exc, context)
