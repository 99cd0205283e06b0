"""Database triggers that make a table append-only, for migrations (the activity log, the
auditor access log): the ORM, the admin and the API refuse changes, and so does the database.

PostgreSQL rejects UPDATE and DELETE. SQLite rejects UPDATE; DELETE stays possible there only
so the test runner can empty tables between browser tests.
"""

from django.db import migrations


def _sql(table: str) -> dict[str, tuple[str, str]]:
    """(up, down) per database vendor."""
    function, trigger = f"{table}_append_only", f"{table}_no_change"
    postgres_up = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{table} is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {trigger}
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    postgres_down = f"""
DROP TRIGGER IF EXISTS {trigger} ON {table};
DROP FUNCTION IF EXISTS {function}();
"""
    sqlite_up = f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN
    SELECT RAISE(ABORT, '{table} is append-only');
END;
"""
    sqlite_down = f"DROP TRIGGER IF EXISTS {table}_no_update;"
    return {"postgresql": (postgres_up, postgres_down), "sqlite": (sqlite_up, sqlite_down)}


def append_only(table: str) -> migrations.RunPython:
    """The migration operation that installs (and on reversal removes) the triggers."""
    sql = _sql(table)

    def run(index):
        def apply(apps, schema_editor):
            statements = sql.get(schema_editor.connection.vendor)
            if statements:
                schema_editor.execute(statements[index])
        return apply

    return migrations.RunPython(run(0), run(1))
