"""Kubernetes service accounts (``format=k8s-serviceaccounts``).

The input is ``kubectl get serviceaccounts -A -o json``: a ``List`` (a ``ServiceAccountList``
from the API is accepted too) whose ``items`` are ``ServiceAccount`` objects. Anything else —
another kind, a single object, a list of pods, truncated JSON — is refused as a whole. The file
is read with ``json`` in one go, so it is capped at ``NHI_IMPORT_MAX_JSON_BYTES`` (25 MB by
default, some 50,000 service accounts). Errors name the item's position (1 = the first item)
where a CSV error would name a line.

Each service account becomes one ``service_account`` identity:

* external id ``k8s:<namespace>/<name>``, name ``<namespace>/<name>``, provider Kubernetes,
  created on from ``metadata.creationTimestamp``. The export does not name its cluster, so
  service accounts with the same namespace and name in two clusters are one identity.
* ``secret_location`` records ``uid <metadata.uid>`` and any token Secrets the account lists,
  so a service account deleted and re-created under the same name shows up as updated.
* **Environment**: the ``soc2hub.io/environment`` annotation (must be valid), else an
  ``environment`` or ``env`` label when it reads as one (prod, production, staging, stage, dev,
  development, shared), else — for new identities only — the import's default environment.
* **Owner team**: the ``soc2hub.io/owner-team`` annotation (an unknown slug is an error), else
  a ``team`` label when it matches a soc2hub team's slug (other values are ignored: cluster
  labels are not soc2hub's). Otherwise new identities get the import's default team.
* **Cloud access**: an ``eks.amazonaws.com/role-arn``, ``iam.gke.io/gcp-service-account`` or
  ``azure.workload.identity/client-id`` annotation becomes the scopes (one line each), and
  ``has_production_access`` is true when the account can assume such a cloud role and its
  environment is production (when the environment comes from the import's default, the flag too
  is set on new identities only). Without one, scopes and the flag are left as they are.
  Admin access cannot be read from the export (RBAC bindings are elsewhere).
* **Rotation**: accounts that list token Secrets hold long-lived tokens: they get the kind's
  rotation policy and the NHI7:2025 tag (long-lived secrets). Accounts without them use
  short-lived tokens the kubelet issues and rotates, so they get no rotation interval instead of
  showing up as "never rotated" forever.
* **``default`` accounts** are identities too (every pod that names no service account runs as
  its namespace's ``default``), and are tagged NHI9:2025 (NHI reuse) unless
  ``automountServiceAccountToken`` is false. Other accounts mount a token by default as well,
  but each serves one workload, so they are not tagged.

The export carries no status: new identities are active, and an existing identity's status is
left alone. Tags are only ever added by an import, never removed.
"""

import json
from collections.abc import Iterator

from django.conf import settings

from evidence.storage import human_size
from nhi.importers.base import (
    ImportContext,
    ImportFormatError,
    ParsedRow,
    RowError,
    RowProblem,
    date_problems,
    parse_timestamp,
    unique_keys,
)
from nhi.models import DEFAULT_ROTATION_DAYS, Environment, NhiKind, NhiStatus

source = "k8s-serviceaccounts"
FIRST_LINE = 1
LIST_KINDS = ("List", "ServiceAccountList")
ENVIRONMENT_WORDS = {
    "production": Environment.PRODUCTION, "prod": Environment.PRODUCTION, "prd": Environment.PRODUCTION,
    "staging": Environment.STAGING, "stage": Environment.STAGING, "stg": Environment.STAGING,
    "development": Environment.DEVELOPMENT, "dev": Environment.DEVELOPMENT,
    "shared": Environment.SHARED,
}
CLOUD_ROLES = {
    "eks.amazonaws.com/role-arn": "AWS IAM role {}",
    "iam.gke.io/gcp-service-account": "GCP service account {}",
    "azure.workload.identity/client-id": "Azure workload identity {}",
}
HOW_TO = "Export it with “kubectl get serviceaccounts -A -o json”."


def _max_bytes() -> int:
    return settings.NHI_IMPORT_MAX_JSON_BYTES


def load(binary_stream) -> list:
    """The ``items`` of the export, after checking it is a list of service accounts."""
    limit = _max_bytes()
    data = binary_stream.read(limit + 1)
    if len(data) > limit:
        raise ImportFormatError(f"The file is over {human_size(limit)}, the most a Kubernetes export may be; "
                                "export one cluster or a few namespaces at a time.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFormatError("The file is not UTF-8 text, so it is not a kubectl JSON export.") from None
    stripped = text.lstrip()
    if not stripped:
        raise ImportFormatError("The file is empty.")
    if stripped[0] not in "{[":
        first = stripped.splitlines()[0].lower()
        hint = (" It looks like an AWS IAM credential report; choose that format." if first.startswith("user,arn")
                else " It looks like a CSV; choose a CSV format." if "," in first else "")
        raise ImportFormatError(f"This is not JSON, so not a Kubernetes export.{hint} {HOW_TO}")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        ending = " The file ends too early: it is truncated." if exc.pos >= len(text.rstrip()) else ""
        raise ImportFormatError(f"The JSON is malformed at line {exc.lineno}, column {exc.colno} "
                                f"({exc.msg}).{ending} {HOW_TO}") from None
    if not isinstance(document, dict):
        raise ImportFormatError(f"Expected a Kubernetes List object, found a JSON {type(document).__name__}. {HOW_TO}")
    kind = document.get("kind")
    if kind not in LIST_KINDS:
        single = " It holds a single service account;" if kind == "ServiceAccount" else ""
        raise ImportFormatError(f"Expected a Kubernetes List of service accounts, found kind “{kind}”.{single} "
                                f"{HOW_TO}")
    items = document.get("items")
    if not isinstance(items, list):
        raise ImportFormatError(f"The List has no “items” array. {HOW_TO}")
    if len(items) > settings.NHI_IMPORT_MAX_ROWS:
        raise ImportFormatError(f"The file has {len(items):,} items; one import takes at most "
                                f"{settings.NHI_IMPORT_MAX_ROWS:,}.")
    for position, item in enumerate(items, start=1):
        item_kind = item.get("kind") if isinstance(item, dict) else type(item).__name__
        if item_kind != "ServiceAccount" and not (kind == "ServiceAccountList" and isinstance(item, dict)
                                                 and item_kind is None):
            raise ImportFormatError(f"Item {position} is a {item_kind or 'object without a kind'}, not a "
                                    f"ServiceAccount: this is not a service account export. {HOW_TO}")
    return items


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _environment(labels: dict, annotations: dict) -> str | None:
    explicit = _text(annotations.get("soc2hub.io/environment"))
    if explicit:
        environment = ENVIRONMENT_WORDS.get(explicit.lower())
        if environment is None:
            raise RowProblem("soc2hub.io/environment", f"“{explicit[:40]}” is not one of "
                                                      f"{', '.join(Environment.values)}.")
        return environment
    for label in ("environment", "env"):
        environment = ENVIRONMENT_WORDS.get(_text(labels.get(label)).lower())
        if environment:
            return environment
    return None


def _owner_team(labels: dict, annotations: dict, context: ImportContext):
    explicit = _text(annotations.get("soc2hub.io/owner-team"))
    if explicit:
        return context.team(explicit, column="soc2hub.io/owner-team")
    label = _text(labels.get("team")).lower()
    return context.teams.get(label) if label else None


def convert(item: dict, context: ImportContext) -> ParsedRow:
    metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    namespace, name = _text(metadata.get("namespace")), _text(metadata.get("name"))
    if not namespace or not name:
        raise RowProblem("metadata", "a service account needs metadata.name and metadata.namespace.")
    labels = metadata.get("labels") if isinstance(metadata.get("labels"), dict) else {}
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    uid = _text(metadata.get("uid"))
    secrets = [_text(s.get("name")) for s in item.get("secrets") or [] if isinstance(s, dict) and _text(s.get("name"))]

    fields: dict = {
        "name": f"{namespace}/{name}",
        "kind": NhiKind.SERVICE_ACCOUNT,
        "provider": "Kubernetes",
        "created_on": parse_timestamp(_text(metadata.get("creationTimestamp")), "metadata.creationTimestamp"),
    }
    location = f"uid {uid}" if uid else ""
    if secrets:
        location += ("; " if location else "") + "token Secrets " + ", ".join(f"{namespace}/{s}" for s in secrets)
    fields["secret_location"] = location[:300]
    defaults = {"status": NhiStatus.ACTIVE, "environment": context.default_environment,
                "purpose": f"Kubernetes service account {name} in namespace {namespace}."}

    environment = _environment(labels, annotations)
    if environment:
        fields["environment"] = environment
    team = _owner_team(labels, annotations, context)
    if team is not None:
        fields["owner_team"] = team
    roles = [template.format(_text(annotations[key])) for key, template in CLOUD_ROLES.items()
             if _text(annotations.get(key))]
    if roles:
        fields["scopes"] = "\n".join(roles)
        # Production access follows the environment: from the file when it names one, else the
        # import's default, which (like the environment itself) only applies to new identities.
        if environment:
            fields["has_production_access"] = environment == Environment.PRODUCTION
        else:
            defaults["has_production_access"] = context.default_environment == Environment.PRODUCTION

    tags: list[str] = []
    if secrets:
        defaults["rotation_interval_days"] = DEFAULT_ROTATION_DAYS[NhiKind.SERVICE_ACCOUNT]
        tags.append("NHI7:2025")
    else:
        defaults["rotation_interval_days"] = None
    if name == "default" and item.get("automountServiceAccountToken") is not False:
        tags.append("NHI9:2025")
        defaults["purpose"] = (f"The default service account of namespace {namespace}: every pod there that names "
                               "no service account runs as it, with its token mounted.")
    problems = date_problems(fields, context.today, label=lambda _: "metadata.creationTimestamp")
    if problems:
        raise RowProblem(*problems[0])
    return ParsedRow(0, source, f"k8s:{namespace}/{name}", fields, defaults, tuple(tags))


def _records(binary_stream, context: ImportContext) -> Iterator[ParsedRow | RowError]:
    for position, item in enumerate(load(binary_stream), start=1):
        metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        external_id = f"k8s:{_text(metadata.get('namespace'))}/{_text(metadata.get('name'))}"
        try:
            row = convert(item, context)
        except RowProblem as problem:
            yield RowError(position, external_id, str(problem))
            continue
        yield ParsedRow(position, row.source, row.external_id, row.fields, row.defaults, row.add_tags)


def parse(binary_stream, context: ImportContext | None = None) -> Iterator[ParsedRow | RowError]:
    """Yield the service accounts of a kubectl export (see the module docstring)."""
    return unique_keys(_records(binary_stream, context or ImportContext()))


def count_rows(binary_stream) -> int:
    return len(load(binary_stream))
