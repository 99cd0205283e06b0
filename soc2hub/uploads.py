"""Refusing an oversized upload while it arrives, before it fills a disk."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from evidence.storage import human_size, safe_filename


IMPORT_PATHS = ("/nhi/imports/", "/api/v1/nhi-imports/")


def limit_for(path: str) -> int:
    """Inventory imports (a 200,000-row credential report) may be larger than evidence files."""
    if path.startswith(IMPORT_PATHS):
        return settings.NHI_IMPORT_MAX_BYTES
    return settings.EVIDENCE_MAX_UPLOAD_BYTES


class SizeLimitUploadHandler(FileUploadHandler):
    """First in ``FILE_UPLOAD_HANDLERS``: counts each file's bytes as they stream in and stops
    reading at the limit for the path (``limit_for``). The rest of the body is drained, not stored, and
    ``request.upload_refused`` says why, for the view to show."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        limit = limit_for(self.request.path)
        if self.received > limit:
            try:
                name = safe_filename(self.file_name)
            except Exception:
                name = "A file"
            self.request.upload_refused = (
                f"“{name}” is over the {human_size(limit)} limit; nothing was stored."
            )
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None
