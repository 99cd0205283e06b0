"""The auditor access log refuses changes in the database too, as the activity log does."""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION audits_auditoraccess_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audits_auditoraccess is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audits_auditoraccess_no_change
    BEFORE UPDATE OR DELETE ON audits_auditoraccess
    FOR EACH ROW EXECUTE FUNCTION audits_auditoraccess_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS audits_auditoraccess_no_change ON audits_auditoraccess;
DROP FUNCTION IF EXISTS audits_auditoraccess_append_only();
"""
# SQLite refuses UPDATE only, so the test runner can still empty the table between tests.
SQLITE_UP = """
CREATE TRIGGER audits_auditoraccess_no_update BEFORE UPDATE ON audits_auditoraccess
BEGIN
    SELECT RAISE(ABORT, 'audits_auditoraccess is append-only');
END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS audits_auditoraccess_no_update;"


def _run(schema_editor, sql_by_vendor):
    sql = sql_by_vendor.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


def forwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP})


def backwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN})


class Migration(migrations.Migration):
    dependencies = [("audits", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
