"""The activity log refuses changes at the database too, not only in the ORM.

PostgreSQL rejects UPDATE and DELETE on the table. SQLite rejects UPDATE; DELETE stays
possible there only so the test runner can empty tables between browser tests (the ORM,
the admin and the API still refuse it everywhere).
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION soc2hub_activitylog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'soc2hub_activitylog is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER soc2hub_activitylog_no_change
    BEFORE UPDATE OR DELETE ON soc2hub_activitylog
    FOR EACH ROW EXECUTE FUNCTION soc2hub_activitylog_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS soc2hub_activitylog_no_change ON soc2hub_activitylog;
DROP FUNCTION IF EXISTS soc2hub_activitylog_append_only();
"""
SQLITE_UP = """
CREATE TRIGGER soc2hub_activitylog_no_update BEFORE UPDATE ON soc2hub_activitylog
BEGIN
    SELECT RAISE(ABORT, 'soc2hub_activitylog is append-only');
END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS soc2hub_activitylog_no_update;"


def _run(schema_editor, sql_by_vendor):
    sql = sql_by_vendor.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


def forwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP})


def backwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN})


class Migration(migrations.Migration):
    dependencies = [("soc2hub", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
