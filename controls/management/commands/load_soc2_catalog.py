from django.core.management.base import BaseCommand, CommandError

from controls.catalog import DEFAULT_CATALOG, CatalogError, load_catalog


class Command(BaseCommand):
    help = "Load (or refresh) the SOC 2 criteria and crosswalk references. Idempotent; owners are kept."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(DEFAULT_CATALOG), help="catalog JSON file")

    def handle(self, *args, file, **options):
        try:
            result = load_catalog(file)
        except CatalogError as exc:
            raise CommandError(f"Catalog not loaded, nothing changed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"SOC 2 catalog: {result.created} created, {result.updated} updated, {result.unchanged} unchanged."
            )
        )
