"""Loading the SOC 2 catalog (criteria and crosswalk references) from its data file.

The whole file is validated before anything is written; the write is one transaction
and an upsert by code, so loading the same file twice changes nothing, and owners
assigned in soc2hub are never touched.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from controls.models import Category, CrosswalkReference, Criterion, Framework
from soc2hub.services import activity_record

DEFAULT_CATALOG = Path(__file__).resolve().parent / "data" / "soc2_catalog.json"

# Which code prefixes belong to which category; anything else (PP1.1, CC10.1, ...) is refused.
CODE_PATTERNS = {
    Category.SECURITY: re.compile(r"^(CC[1-9])\.[1-9]$"),
    Category.AVAILABILITY: re.compile(r"^(A1)\.[1-9]$"),
    Category.CONFIDENTIALITY: re.compile(r"^(C1)\.[1-9]$"),
    Category.PROCESSING_INTEGRITY: re.compile(r"^(PI1)\.[1-9]$"),
    Category.PRIVACY: re.compile(r"^(P[1-8])\.[1-9]$"),
}
# Identifiers that circulate in public catalogs but do not exist in the criteria.
KNOWN_INVALID = {"CC5.4", "CC6.9", "CC8.2", "A1.4"}
CRITERION_FIELDS = ("code", "category", "series", "series_name", "title", "summary")
CROSSWALK_FIELDS = ("framework", "code", "title", "summary")


class CatalogError(Exception):
    pass


@dataclass
class LoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def _require_text(entry: dict, name: str, where: str, max_length: int | None = None) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: '{name}' must be a non-empty string")
    if max_length and len(value) > max_length:
        raise CatalogError(f"{where}: '{name}' is longer than {max_length} characters")
    return value.strip()


def parse_catalog(raw: str) -> tuple[list[dict], list[dict]]:
    """Validate the catalog text; return (criteria, crosswalk) rows ready to load."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("criteria"), list):
        raise CatalogError("the file must be an object with a 'criteria' list")

    criteria, seen = [], set()
    for index, entry in enumerate(data["criteria"]):
        where = f"criteria[{index}]"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: must be an object")
        code = _require_text(entry, "code", where, 10)
        where = f"criteria[{index}] ({code})"
        if code in KNOWN_INVALID:
            raise CatalogError(f"{where}: {code} is not a Trust Services Criterion")
        category = _require_text(entry, "category", where)
        if category not in Category.values:
            raise CatalogError(f"{where}: unknown category '{category}'")
        match = CODE_PATTERNS[category].match(code)
        if not match:
            raise CatalogError(f"{where}: code does not belong to category '{category}'")
        series = _require_text(entry, "series", where, 10)
        if series != match.group(1):
            raise CatalogError(f"{where}: series '{series}' does not match the code")
        if code in seen:
            raise CatalogError(f"{where}: duplicate code")
        seen.add(code)
        criteria.append(
            {
                "code": code,
                "category": category,
                "series": series,
                "series_name": _require_text(entry, "series_name", where, 100),
                "title": _require_text(entry, "title", where, 200),
                "summary": _require_text(entry, "summary", where),
                "sort_order": index,
            }
        )
    if not criteria:
        raise CatalogError("the catalog has no criteria")

    crosswalk, seen = [], set()
    for index, entry in enumerate(data.get("crosswalk", [])):
        where = f"crosswalk[{index}]"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: must be an object")
        framework = _require_text(entry, "framework", where)
        if framework not in Framework.values:
            raise CatalogError(f"{where}: unknown framework '{framework}'")
        code = _require_text(entry, "code", where, 30)
        if (framework, code) in seen:
            raise CatalogError(f"{where} ({code}): duplicate code")
        seen.add((framework, code))
        crosswalk.append(
            {
                "framework": framework,
                "code": code,
                "title": _require_text(entry, "title", where, 200),
                "summary": entry.get("summary", "") if isinstance(entry.get("summary", ""), str) else "",
                "sort_order": index,
            }
        )
    return criteria, crosswalk


def _upsert(model, rows: list[dict], keys: tuple[str, ...], result: LoadResult) -> None:
    existing = {tuple(getattr(obj, k) for k in keys): obj for obj in model.objects.all()}
    for row in rows:
        key = tuple(row[k] for k in keys)
        obj = existing.get(key)
        if obj is None:
            model.objects.create(**row)
            result.created += 1
            result.details.append(f"created {model.__name__} {row['code']}")
            continue
        changes = {k: v for k, v in row.items() if getattr(obj, k) != v}
        if changes:
            model.objects.filter(pk=obj.pk).update(**changes)
            result.updated += 1
            result.details.append(f"updated {model.__name__} {row['code']}: {', '.join(sorted(changes))}")
        else:
            result.unchanged += 1


def load_catalog(path: Path = DEFAULT_CATALOG, *, actor=None) -> LoadResult:
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read {path}: {exc}") from exc
    criteria, crosswalk = parse_catalog(raw)
    result = LoadResult()
    with transaction.atomic():
        _upsert(Criterion, criteria, ("code",), result)
        _upsert(CrosswalkReference, crosswalk, ("framework", "code"), result)
        if result.changed:
            activity_record(
                actor=actor,
                verb="catalog.loaded",
                after={"created": result.created, "updated": result.updated, "file": Path(path).name},
                message="; ".join(result.details[:200]),
            )
    return result
