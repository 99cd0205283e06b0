"""A service's ValidationError as the API's 400, keyed by field where the service named one."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.settings import api_settings


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError({api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field: messages
                                for field, messages in exc.message_dict.items()})
    return ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.messages})


def call_service(func, **kwargs):
    """Call a service; its ValidationError becomes the API's 400 (507 when storage is full)."""
    try:
        return func(**kwargs)
    except DjangoValidationError as exc:
        if getattr(exc, "code", None) == STORAGE_FULL:
            raise InsufficientStorage(exc.messages[0]) from exc
        raise as_drf_error(exc) from exc


# A service's ValidationError with this code means the file store had no room: not the
# caller's mistake, so 507 rather than 400 (nothing was stored).
STORAGE_FULL = "storage_full"


class InsufficientStorage(APIException):
    status_code = 507
    default_code = STORAGE_FULL


class UploadTooLarge(APIException):
    """An upload stopped while it streamed in (see soc2hub.uploads): 413 with the reason."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"
