"""Checking an upload before it is stored: size, type sniffed from the bytes, a safe name, SHA-256.

The file is read in chunks (Django has already streamed anything large to a temporary
file), so a 50 MB upload never sits in memory.
"""

import codecs
import errno
import hashlib
import logging
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.utils.text import get_valid_filename

logger = logging.getLogger(__name__)

SNIFF_BYTES = 8192
TEXT_TYPES = {".csv": "text/csv", ".txt": "text/plain", ".json": "application/json"}
BINARY_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".zip": "application/zip",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# Office files are ZIP archives; these members tell which kind.
OOXML_MARKERS = {".xlsx": "xl/workbook.xml", ".docx": "word/document.xml"}
UNMISTAKABLE_SIGNATURES = {
    "application/pdf", "application/zip", "application/gzip", "application/x-7z-compressed", "application/x-rar-compressed",
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/x-executable", "application/x-msdownload",
}
ZIP_FAMILY = {"application/zip", *(BINARY_TYPES[ext] for ext in OOXML_MARKERS)}


@dataclass(frozen=True)
class InspectedFile:
    name: str
    size: int
    sha256: str
    content_type: str


def human_size(num_bytes: float) -> str:
    """1536 -> '1.5 KB'; 52428800 -> '50 MB'."""
    for unit in ("bytes", "KB", "MB"):
        if num_bytes < 1024:
            return f"{num_bytes:.0f} {unit}" if unit == "bytes" else f"{num_bytes:.3g} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.3g} GB"


def allowed_extensions() -> list[str]:
    return sorted(ext for ext in {**TEXT_TYPES, **BINARY_TYPES} if ext.lstrip(".") in settings.EVIDENCE_ALLOWED_TYPES)


def safe_filename(raw: str) -> str:
    """The last path component of ``raw`` with control characters and anything but
    letters, digits, ``-``, ``_`` and ``.`` removed; refuses names that end up empty."""
    name = unicodedata.normalize("NFKC", raw or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip().lstrip(".")
    try:
        name = get_valid_filename(name)
    except SuspiciousFileOperation:
        raise ValidationError("A file name is empty or unusable once unsafe characters are removed; "
                              "rename the file and try again.") from None
    stem, ext = os.path.splitext(name)
    return f"{stem[:150]}{ext[:10].lower()}"


def _describe(kind) -> str:
    return f"{kind.mime}" if kind else "unknown binary data"


def inspect_upload(uploaded) -> InspectedFile:
    """Validate one uploaded file; raise ``ValidationError`` naming the file and the reason."""
    name = safe_filename(uploaded.name)
    label = f"“{name}”"
    ext = os.path.splitext(name)[1].lower()
    allowed = allowed_extensions()
    if ext not in allowed:
        raise ValidationError(f"{label}: {ext or 'files without an extension'} is not accepted. "
                              f"Accepted: {', '.join(allowed)}.")
    limit = settings.EVIDENCE_MAX_UPLOAD_BYTES
    if uploaded.size is not None and uploaded.size > limit:
        raise ValidationError(f"{label} is {human_size(uploaded.size)}; the limit is {human_size(limit)}.")

    digest = hashlib.sha256()
    head = b""
    size = 0
    text_decoder = codecs.getincrementaldecoder("utf-8")() if ext in TEXT_TYPES else None
    uploaded.seek(0)
    for chunk in uploaded.chunks():
        size += len(chunk)
        if size > limit:
            raise ValidationError(f"{label} is over the {human_size(limit)} limit.")
        digest.update(chunk)
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        if text_decoder is not None:
            try:
                text = text_decoder.decode(chunk)
            except UnicodeDecodeError:
                raise ValidationError(f"{label} is not UTF-8 text, so it is not a {ext} file.") from None
            if "\x00" in text:
                raise ValidationError(f"{label} contains binary data, so it is not a {ext} file.")
    if size == 0:
        raise ValidationError(f"{label} is empty.")
    uploaded.seek(0)

    kind = filetype.guess(head)
    if ext in TEXT_TYPES:
        # Text is judged as text: valid UTF-8 without NUL bytes (checked above). Short magic
        # numbers ("BM", "ID3") match ordinary words, so only long, unambiguous signatures
        # (a PDF or an archive renamed .txt) count against it.
        if kind is not None and kind.mime in UNMISTAKABLE_SIGNATURES:
            raise ValidationError(f"{label} looks like {_describe(kind)}, not {ext} text.")
        if text_decoder is not None:
            try:
                text_decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise ValidationError(f"{label} ends in the middle of a character; it is not UTF-8 text.") from None
        content_type = TEXT_TYPES[ext]
    else:
        expected = BINARY_TYPES[ext]
        sniffed = kind.mime if kind else None
        if expected in ZIP_FAMILY:
            if sniffed not in ZIP_FAMILY:
                raise ValidationError(f"{label} looks like {_describe(kind)}, not a {ext} file.")
            marker = OOXML_MARKERS.get(ext)
            if marker and not _zip_has_member(uploaded, marker):
                raise ValidationError(f"{label} is a ZIP archive but not a {ext} document.")
        elif sniffed != expected:
            raise ValidationError(f"{label} looks like {_describe(kind)}, not a {ext} file.")
        content_type = expected
    return InspectedFile(name=name, size=size, sha256=digest.hexdigest(), content_type=content_type)


def _zip_has_member(uploaded, member: str) -> bool:
    try:
        uploaded.seek(0)
        with zipfile.ZipFile(uploaded) as archive:  # reads the central directory only
            return member in archive.namelist()
    except zipfile.BadZipFile:
        return False
    finally:
        uploaded.seek(0)


# The errors that mean "no room left": the disk, a quota, or a file-size limit.
NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
STORAGE_FULL = "storage_full"  # the ValidationError code the page and the API answer with 507 (soc2hub.api_errors)


def store_upload(field_file, name: str, content) -> str:
    """Write ``content`` to ``field_file``'s storage under its field's ``upload_to`` and name it
    there, like ``FieldFile.save(..., save=False)``, but leave nothing behind when the write fails.

    Django's storage writes a file in place and, when the disk fills or the connection drops half
    way, keeps what it wrote without telling the field its name. The target name is decided here
    first (it holds a fresh UUID directory, so no other upload writes there), so a failed write's
    partial file and its now-empty directory can be removed. Running out of space becomes a
    ``ValidationError`` with code ``storage_full``; any other error is raised as it is."""
    target = field_file.field.generate_filename(field_file.instance, name)
    storage = field_file.storage
    try:
        stored = storage.save(target, content, max_length=field_file.field.max_length)
    except BaseException as exc:
        discard_stored(storage, target)
        if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
            logger.error("evidence storage is full: %s not stored (%s)", target, exc)
            raise ValidationError(
                f"“{os.path.basename(target)}” could not be stored: the file store is full. Nothing was kept; "
                "tell your soc2hub administrator, then try again.",
                code=STORAGE_FULL,
            ) from exc
        raise
    field_file.name = stored
    setattr(field_file.instance, field_file.field.attname, stored)
    field_file._committed = True
    return stored


def discard_stored(storage, name: str) -> None:
    """Remove a stored file (whole or partial) and, on a filesystem, its directory if that is now
    empty. Never raises: it runs while another error is on its way out."""
    try:
        if storage.exists(name):
            storage.delete(name)
    except Exception:  # the original error matters more; say this one in the log
        logger.exception("could not remove %s after a failed write", name)
    try:
        path = storage.path(name)
    except NotImplementedError:  # object storage has no directories
        return
    try:
        os.rmdir(os.path.dirname(path))  # only the upload's own UUID directory, and only if empty
    except OSError:
        pass


def sha256_of_storage_file(field_file) -> str:
    """Hash a stored file in chunks (used to verify evidence before packaging it)."""
    digest = hashlib.sha256()
    with field_file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
