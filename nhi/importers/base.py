"""What every importer yields, and the checks they share.

An importer reads one uploaded file as a stream and yields, in file order:

* ``ParsedRow`` — one identity as the file describes it. ``fields`` holds what the file
  carries and always applies (new and existing identities alike); ``defaults`` holds what a
  *new* identity gets when the file is silent (an existing one keeps its value);
  ``add_tags`` are OWASP NHI tags added to whatever the identity already has (never removed).
* ``RowError`` — a row that cannot be imported, with its line and the column at fault.
* ``Skipped`` — a row that is deliberately not an identity (e.g. an AWS console-only user).

Problems with the file as a whole (wrong format, truncated JSON, missing header columns,
too many rows) raise ``ImportFormatError``. Keys are field names of ``NonHumanIdentity``.
"""

import codecs
import csv
import datetime as dt
import io
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from nhi.models import OWASP_NHI_TAGS

MISSING = {"", "n/a", "no_information", "not_supported"}
TRUE_WORDS = {"true", "yes", "1", "y"}
FALSE_WORDS = {"false", "no", "0", "n", ""}
KNOWN_TAGS = {tag for tag, _ in OWASP_NHI_TAGS}
# The leading quote the CSV export adds to cells a spreadsheet would run as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int
    source: str
    external_id: str
    fields: dict
    defaults: dict = field(default_factory=dict)
    add_tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    external_id: str
    message: str
    secret: bool = False  # the row held what looks like a credential: the upload is deleted


@dataclass(frozen=True, slots=True)
class Skipped:
    line: int
    external_id: str
    reason: str


class ImportFormatError(Exception):
    """The file as a whole cannot be read with the chosen importer."""


class RowProblem(Exception):
    """Raised while converting one row; becomes a ``RowError`` naming the column."""

    def __init__(self, column: str, message: str, *, secret: bool = False):
        super().__init__(f"{column}: {message}")
        self.column, self.secret = column, secret


class ImportContext:
    """What converting a row needs from outside the file: today's date, the caller's default
    environment, and teams and people by their slugs and usernames — each loaded with one
    query the first time it is needed, never one query per row."""

    def __init__(self, *, default_environment: str = "production", today: dt.date | None = None):
        self.default_environment = default_environment
        self.today = today or timezone.localdate()
        self._teams = None
        self._users = None

    @property
    def teams(self) -> dict:
        if self._teams is None:
            from soc2hub.models import Team

            self._teams = {team.slug.lower(): team for team in Team.objects.all()}
        return self._teams

    def team(self, slug: str, column: str = "owner_team"):
        team = self.teams.get(slug.strip().lower())
        if team is None:
            known = ", ".join(sorted(self.teams)[:12]) or "none yet"
            raise RowProblem(column, f"no team has the slug “{slug}” (teams: {known}).")
        return team

    def user(self, username: str, column: str = "technical_owner"):
        if self._users is None:
            from soc2hub.models import User

            people = list(User.objects.only("pk", "username", "is_active", "first_name", "last_name"))
            self._users = {u.username: u for u in people}
            self._users_folded = {}
            for person in people:
                self._users_folded.setdefault(person.username.lower(), []).append(person)
        person = self._users.get(username.strip())
        if person is None:
            folded = self._users_folded.get(username.strip().lower(), [])
            person = folded[0] if len(folded) == 1 else None
        if person is None:
            raise RowProblem(column, f"nobody has the username “{username}”.")
        return person


# --- reading text --------------------------------------------------------------------------

def text_stream(binary_stream) -> io.TextIOWrapper:
    """A UTF-8 text view of the upload (a byte-order mark is dropped), decoded as it is read."""
    return io.TextIOWrapper(binary_stream, encoding="utf-8-sig", newline="")


def release(text: io.TextIOWrapper) -> None:
    """Let go of the text view without closing the caller's binary stream."""
    try:
        text.detach()
    except ValueError:
        pass


def csv_records(binary_stream, *, what: str) -> Iterator[tuple[int, list[str] | None, list[str]]]:
    """Yield ``(line, header, cells)`` for each non-blank record (the header first, with
    ``cells`` empty), turning undecodable bytes and broken quoting into ``ImportFormatError``.
    ``line`` is the file line the record ends on."""
    text = text_stream(binary_stream)
    reader = csv.reader(text, strict=True)
    try:
        header = None
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except UnicodeDecodeError:
                raise ImportFormatError(f"The file is not UTF-8 text (near line {reader.line_num + 1}); "
                                        f"it cannot be {what}.") from None
            except csv.Error as exc:
                raise ImportFormatError(f"Line {reader.line_num}: the CSV is malformed ({exc}); "
                                        "the file may be truncated or not a CSV.") from None
            if not cells or all(not c.strip() for c in cells):
                continue
            if "\x00" in "".join(cells):
                raise ImportFormatError(f"Line {reader.line_num} contains binary data; it is not {what}.")
            if header is None:
                header = [c.strip().lower() for c in cells]
                yield reader.line_num, header, []
            else:
                yield reader.line_num, header, cells
    finally:
        release(text)


def count_csv_records(binary_stream) -> int:
    """Records after the header (blank lines ignored): the total a progress bar counts to."""
    count = -1
    for _ in csv_records(binary_stream, what="counted"):
        count += 1
    return max(count, 0)


def check_header(header: list[str], *, required: Iterable[str], known: Iterable[str] | None, fmt: str,
                 hint: str = "") -> None:
    duplicates = sorted({c for c in header if header.count(c) > 1 and c})
    if duplicates:
        raise ImportFormatError(f"The header names {', '.join(duplicates)} more than once.")
    missing = [c for c in required if c not in header]
    if missing:
        guess = guess_format(header)
        advice = f" This looks like {guess}; choose that format or export the right file." if guess else ""
        raise ImportFormatError(f"This is not {fmt}: the header lacks {', '.join(missing)}.{advice}{hint}")
    if known is not None:
        unknown = [c for c in header if c not in known]
        if unknown:
            raise ImportFormatError(f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
                                    f"The columns are: {', '.join(known)}.")


def guess_format(header: list[str]) -> str:
    if {"user", "arn", "access_key_1_active"} <= set(header):
        return "an AWS IAM credential report"
    if {"external_id", "name", "kind"} <= set(header):
        return "a soc2hub CSV"
    if header and header[0].lstrip().startswith(("{", "[")):
        return "JSON (a Kubernetes export?), not a CSV"
    return ""


def row_limit(records: Iterator, *, header: int = 1, limit: int | None = None) -> Iterator:
    """Pass records through, refusing the file past ``NHI_IMPORT_MAX_ROWS`` rows (the first
    ``header`` records are not rows)."""
    limit = limit or settings.NHI_IMPORT_MAX_ROWS
    for count, record in enumerate(records, start=1 - header):
        if count > limit:
            raise ImportFormatError(f"The file has more than {limit:,} rows, the most one import takes; "
                                    "split it into several files.")
        yield record


def unique_keys(items: Iterator) -> Iterator:
    """Refuse the second occurrence of a natural key inside one file, naming the first."""
    seen: dict[str, int] = {}
    for item in items:
        if isinstance(item, ParsedRow):
            key = f"{item.source}\x00{item.external_id}"
            first = seen.setdefault(key, item.line)
            if first != item.line:
                yield RowError(item.line, item.external_id,
                               f"external_id: “{item.external_id}” appears twice in the file (first on line "
                               f"{first}); each identity may appear once.")
                continue
        yield item


def cell(value: str | None) -> str:
    """A cell without surrounding spaces and without the quote the export adds before a formula."""
    value = (value or "").strip()
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def is_missing(value: str | None) -> bool:
    return (value or "").strip().lower() in MISSING


# --- values --------------------------------------------------------------------------------

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(value: str, column: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    if not DAY.match(value):
        raise RowProblem(column, f"“{value[:40]}” is not a date; write it as YYYY-MM-DD.")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RowProblem(column, f"“{value}” is not a real date.") from None


def parse_timestamp(value: str, column: str) -> dt.date | None:
    """An ISO 8601 timestamp (with its offset) as a local date; AWS's missing markers give None."""
    if is_missing(value):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise RowProblem(column, f"“{value.strip()[:40]}” is not an ISO 8601 timestamp.") from None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=dt.UTC)
    return timezone.localtime(moment).date()


def parse_bool(value: str, column: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise RowProblem(column, f"“{value.strip()[:20]}” is not true/false, yes/no or 1/0.")


def parse_tags(value: str, column: str = "owasp_tags") -> list[str]:
    tags: list[str] = []
    for raw in value.split(";"):
        tag = raw.strip().upper()
        if not tag:
            continue
        if tag not in KNOWN_TAGS:
            raise RowProblem(column, f"“{raw.strip()[:20]}” is not an OWASP NHI Top 10 (2025) tag; "
                                     "write them like NHI7:2025.")
        if tag not in tags:
            tags.append(tag)
    return tags


def check_length(value: str, column: str, limit: int) -> str:
    if len(value) > limit:
        raise RowProblem(column, f"is {len(value)} characters long; the limit is {limit}.")
    return value


DATE_ORDER = (
    ("last_rotated_on", "it cannot have been rotated before it was created."),
    ("last_used_on", "it cannot have been used before it was created."),
    ("expires_on", "it cannot expire before it was created."),
)


def date_problems(values: dict, today: dt.date, *, label=lambda name: name) -> list[tuple[str, str]]:
    """Impossible dates among ``values``: creation, use or rotation in the future, and rotation,
    use or expiry before creation. ``label`` names the file's column for a field."""
    problems = []
    for name in ("created_on", "last_used_on", "last_rotated_on"):
        value = values.get(name)
        if value and value > today:
            problems.append((label(name), f"{value.isoformat()} is in the future."))
    created = values.get("created_on")
    if created:
        for name, message in DATE_ORDER:
            value = values.get(name)
            if value and value < created:
                problems.append((label(name), (f"{value.isoformat()} is before it was created "
                                               f"({created.isoformat()}): {message}")))
    return problems


# --- secrets -------------------------------------------------------------------------------

SECRET_PATTERNS = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"(?<![A-Za-z0-9])(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}"), "a GitHub token"),
    (re.compile(r"github_pat_[A-Za-z0-9_]{40,}"), "a GitHub token"),
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"), "a Stripe key"),
    (re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}"), "a Google API key"),
    (re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "a JSON web token"),
    (re.compile(r"(?i:aws_secret_access_key)\s*[=:]"), "an AWS secret access key"),
]
# 40 characters of base64 standing alone (not part of an ARN or a path), checked for randomness.
AWS_SECRET_KEY = re.compile(r"(?<![A-Za-z0-9/+=:])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
AWS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])")
HASH_PREFIXES = ("sha256:", "sha1:", "md5:", "sha512:")
MASKS = ("…", "...", "**", "••", "xxxx", "XXXX")
TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]{20,}")


ANY_SECRET = re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in SECRET_PATTERNS))


def secret_kind(value: str) -> str | None:
    """What kind of credential ``value`` seems to contain, if any (never echo the value)."""
    if len(value) < 15:
        return None  # shorter than any credential the patterns know
    if ANY_SECRET.search(value) is None:
        return _aws_secret_key(value)
    for pattern, kind in SECRET_PATTERNS:
        if pattern.search(value):
            return kind
    return _aws_secret_key(value)


def _aws_secret_key(value: str) -> str | None:
    if len(value) >= 40 and any(_random_looking(token) for token in AWS_SECRET_KEY.findall(value)):
        return "an AWS secret access key"
    return None


def check_no_secret(value: str, column: str) -> str:
    kind = secret_kind(value)
    if kind:
        raise RowProblem(column, f"looks like it contains {kind}. soc2hub never stores secrets: remove it, "
                                 "and rotate that credential, since the file exposed it.", secret=True)
    return value


def check_fingerprint(value: str, column: str = "credential_fingerprint") -> str:
    """A fingerprint is a masked value (``AKIA…7QXZ``), a hash (``SHA256:…``) or a short
    description (``key 1 of svc-ci``); anything that looks like a whole credential is refused."""
    check_no_secret(value, column)
    if AWS_KEY_ID.search(value):
        raise RowProblem(column, "holds a whole AWS access key ID; store it masked, e.g. AKIA…7QXZ.", secret=True)
    if any(mask in value for mask in MASKS) or value.lower().startswith(HASH_PREFIXES):
        return value
    if re.fullmatch(r"(?:[0-9a-fA-F]{2}:){15,}[0-9a-fA-F]{2}", value) or re.fullmatch(r"[0-9a-f]{32,128}", value):
        return value  # a colon-separated or hex digest
    for token in TOKEN.findall(value):
        if _random_looking(token):
            raise RowProblem(column, "looks like a whole credential, not a masked value; store only a masked "
                                     "value (e.g. AKIA…7QXZ) or a fingerprint (SHA256:…), and rotate that "
                                     "credential, since the file exposed it.", secret=True)
    return value


def _random_looking(token: str) -> bool:
    """Long, mixed-case, with digits, and close to random: how generated secrets look, and
    how names such as ``payments-api-2024-deploy`` do not."""
    if len(token) < 24 or not (re.search(r"[a-z]", token) and re.search(r"[A-Z]", token)
                               and re.search(r"[0-9]", token)):
        return False
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return entropy >= 4.0


def decode_head(data: bytes) -> str:
    """The first bytes of an upload as text, tolerating a character cut at the end."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    return decoder.decode(data, final=False)
