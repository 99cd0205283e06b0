"""The shipped SOC 2 catalog, and load_soc2_catalog: idempotent, transactional, strict about bad files."""

import json
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from controls.catalog import DEFAULT_CATALOG, load_catalog
from controls.models import Criterion, CrosswalkReference
from soc2hub.models import ActivityLog

SERIES_COUNTS = {
    "CC1": 5, "CC2": 3, "CC3": 4, "CC4": 2, "CC5": 3, "CC6": 8, "CC7": 5, "CC8": 1, "CC9": 2,
    "A1": 3, "C1": 2, "PI1": 5,
    "P1": 1, "P2": 1, "P3": 2, "P4": 3, "P5": 2, "P6": 7, "P7": 1, "P8": 1,
}
CATEGORY_COUNTS = {
    "security": 33, "availability": 3, "confidentiality": 2, "processing_integrity": 5, "privacy": 18,
}
EXPECTED_CODES = {f"{series}.{n}" for series, count in SERIES_COUNTS.items() for n in range(1, count + 1)}


def shipped() -> dict:
    return json.loads(DEFAULT_CATALOG.read_text(encoding="utf-8"))


def state() -> dict:
    """Everything a catalog load may touch, to compare before and after."""
    return {
        "criteria": list(Criterion.objects.order_by("code").values_list(
            "code", "category", "series", "title", "summary", "sort_order",
            "business_owner", "control_owner", "evidence_owner")),
        "crosswalk": list(CrosswalkReference.objects.order_by("framework", "code").values_list(
            "framework", "code", "title", "summary")),
        "log": ActivityLog.objects.count(),
    }


# --- the shipped catalog ---------------------------------------------------------------------


def test_catalog_has_exactly_the_61_criteria(catalog):
    codes = set(Criterion.objects.values_list("code", flat=True))
    assert Criterion.objects.count() == 61
    assert codes == EXPECTED_CODES


def test_counts_per_category_and_series(catalog):
    assert Counter(Criterion.objects.values_list("category", flat=True)) == CATEGORY_COUNTS
    assert Counter(Criterion.objects.values_list("series", flat=True)) == SERIES_COUNTS


@pytest.mark.parametrize("trap", ["PP1.1", "PP1.5", "CC5.4", "CC6.9", "CC8.2", "A1.4", "CC10.1"])
def test_trap_ids_are_absent(catalog, trap):
    assert not Criterion.objects.filter(code=trap).exists()


def test_privacy_disclosure_criteria_present(catalog):
    p6 = Criterion.objects.filter(series="P6")
    assert {"P6.1", "P6.2"} <= set(p6.values_list("code", flat=True))
    assert set(p6.values_list("category", flat=True)) == {"privacy"}


def test_every_criterion_has_text_and_matching_series(catalog):
    for c in Criterion.objects.all():
        assert c.title.strip() and c.summary.strip() and c.series_name.strip(), c.code
        assert c.code.split(".")[0] == c.series, c.code


def test_crosswalk_references(catalog):
    refs = {c.code: c for c in CrosswalkReference.objects.all()}
    gv = {f"GV.RR-0{n}" for n in range(1, 5)}
    nhi = {f"NHI{n}:2025" for n in range(1, 11)}
    govern = {f"GOVERN {n}" for n in range(1, 7)}
    assert gv | nhi | govern <= set(refs)
    assert {refs[c].framework for c in gv} == {"nist_csf_2"}
    assert {refs[c].framework for c in nhi} == {"owasp_nhi_2025"}
    assert {refs[c].framework for c in govern} == {"nist_ai_rmf"}
    # Rotation is NHI7 (long-lived secrets), offboarding NHI1; NHI3 is third-party NHI, not rotation.
    assert "long-lived secrets" in refs["NHI7:2025"].title.lower()
    assert "offboarding" in refs["NHI1:2025"].title.lower()
    assert "third" in refs["NHI3:2025"].title.lower()
    assert "rotat" not in refs["NHI3:2025"].title.lower()


# --- idempotency -----------------------------------------------------------------------------


def test_first_load_creates_and_logs(db):
    result = load_catalog()
    assert (result.created, result.updated) == (61 + 20, 0)
    entry = ActivityLog.objects.get()
    assert entry.verb == "catalog.loaded"
    assert entry.after["created"] == 81


def test_loading_twice_changes_nothing(db, capsys):
    call_command("load_soc2_catalog")
    before = state()
    call_command("load_soc2_catalog")
    assert "0 created, 0 updated, 81 unchanged" in capsys.readouterr().out
    assert state() == before


def test_reload_keeps_owners_and_applies_text_changes(catalog, teams, tmp_path):
    hr, security = teams["hr"], teams["security"]
    Criterion.objects.filter(code="CC1.4").update(business_owner=hr, control_owner=hr, evidence_owner=security)
    data = shipped()
    cc14 = next(c for c in data["criteria"] if c["code"] == "CC1.4")
    cc14["title"] = "Hiring, training and keeping competent people (revised)"
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    log_before = ActivityLog.objects.count()

    result = load_catalog(path)

    assert (result.created, result.updated) == (0, 1)
    c = Criterion.objects.get(code="CC1.4")
    assert c.title.endswith("(revised)")
    assert (c.business_owner, c.control_owner, c.evidence_owner) == (hr, hr, security)
    assert ActivityLog.objects.count() == log_before + 1
    # And back to the shipped text, owners still in place.
    call_command("load_soc2_catalog")
    c.refresh_from_db()
    assert not c.title.endswith("(revised)")
    assert (c.business_owner, c.control_owner, c.evidence_owner) == (hr, hr, security)


# --- malformed files -------------------------------------------------------------------------


def _drop(field):
    def mutate(d):
        del d["criteria"][3][field]
    return mutate


def _set(index, **values):
    def mutate(d):
        d["criteria"][index].update(values)
    return mutate


def _append(**entry):
    def mutate(d):
        d["criteria"].append({"series_name": "x", "title": "x", "summary": "x", **entry})
    return mutate


def _duplicate(d):
    d["criteria"][4]["code"] = d["criteria"][3]["code"]


def _bad_crosswalk_at_end(d):
    d["crosswalk"].append({"framework": "iso_27001", "code": "A.5.1", "title": "Policies"})


# (mutation, words the error must contain); criteria[3] is CC1.4, criteria[60] is P8.1
MALFORMED = {
    "missing title": (_drop("title"), ["criteria[3]", "CC1.4", "title"]),
    "missing code": (_drop("code"), ["criteria[3]", "code"]),
    "empty summary": (_set(3, summary="   "), ["criteria[3]", "CC1.4", "summary"]),
    "unknown category": (_set(3, category="governance"), ["criteria[3]", "CC1.4", "governance"]),
    "code in wrong category": (_set(3, category="availability"), ["criteria[3]", "CC1.4", "availability"]),
    "series does not match": (_set(3, series="CC2"), ["criteria[3]", "CC1.4", "series"]),
    "PP1 mislabel": (_set(38, code="PP1.1", series="PP1"), ["criteria[38]", "PP1.1"]),
    "trap CC6.9": (_append(code="CC6.9", category="security", series="CC6"), ["criteria[61]", "CC6.9"]),
    "trap A1.4": (_append(code="A1.4", category="availability", series="A1"), ["A1.4"]),
    "duplicate code": (_duplicate, ["criteria[4]", "CC1.4", "duplicate"]),
    "title too long": (_set(3, title="x" * 201), ["criteria[3]", "CC1.4", "title"]),
    "bad entry at the end": (_set(60, category="security"), ["criteria[60]", "P8.1"]),
    "bad crosswalk at the end": (_bad_crosswalk_at_end, ["crosswalk[20]", "iso_27001"]),
}


def write_catalog(tmp_path, mutate) -> str:
    data = shipped()
    # A good entry changed too: if anything were written before the bad entry was found,
    # the first criterion's title would show it.
    data["criteria"][0]["title"] = "SHOULD NEVER BE LOADED"
    data["crosswalk"][0]["title"] = "SHOULD NEVER BE LOADED"
    mutate(data)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_invalid_json_is_rejected(catalog, tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text('{"criteria": [ {"code": "CC1.1",, } ]')
    before = state()
    with pytest.raises(CommandError, match="not valid JSON.*line 1"):
        call_command("load_soc2_catalog", file=str(path))
    assert state() == before


def test_missing_file_is_rejected(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("load_soc2_catalog", file=str(tmp_path / "nope.json"))
    assert Criterion.objects.count() == 0


@pytest.mark.parametrize("case", MALFORMED.keys())
def test_malformed_file_over_loaded_catalog_changes_nothing(catalog, teams, tmp_path, case):
    mutate, words = MALFORMED[case]
    Criterion.objects.filter(code="CC1.1").update(control_owner=teams["hr"])
    path = write_catalog(tmp_path, mutate)
    before = state()

    with pytest.raises(CommandError) as excinfo:
        call_command("load_soc2_catalog", file=path)

    message = str(excinfo.value)
    assert "nothing changed" in message
    for word in words:
        assert word in message
    assert state() == before
    assert Criterion.objects.get(code="CC1.1").title != "SHOULD NEVER BE LOADED"


@pytest.mark.parametrize("case", MALFORMED.keys())
def test_malformed_file_on_empty_database_changes_nothing(db, tmp_path, case):
    mutate, words = MALFORMED[case]
    path = write_catalog(tmp_path, mutate)

    with pytest.raises(CommandError) as excinfo:
        call_command("load_soc2_catalog", file=path)

    assert all(word in str(excinfo.value) for word in words), str(excinfo.value)
    assert Criterion.objects.count() == 0
    assert CrosswalkReference.objects.count() == 0
    assert ActivityLog.objects.count() == 0


def test_file_without_criteria_is_rejected(db, tmp_path):
    for text in ('{"criteria": []}', '{"crosswalk": []}', "[]"):
        path = tmp_path / "catalog.json"
        path.write_text(text)
        with pytest.raises(CommandError):
            call_command("load_soc2_catalog", file=str(path))
    assert Criterion.objects.count() == 0


def test_the_unmutated_fixture_loads(catalog, tmp_path):
    # Guards the tests above: without the bad entry the same file loads (and the changed
    # first title lands), so each rejection really is about the bad entry.
    call_command("load_soc2_catalog", file=write_catalog(tmp_path, lambda data: None))
    assert Criterion.objects.get(code="CC1.1").title == "SHOULD NEVER BE LOADED"
