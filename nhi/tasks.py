"""Import work, run by Celery. Tasks take ids and call one service each; the services return
quietly when the import is gone or already done, so a redelivered task is harmless."""

from celery import shared_task


@shared_task(name="nhi.tasks.import_check", ignore_result=True)
def import_check(import_id: int) -> None:
    """The dry run of an uploaded import (``nhi.imports.import_check``)."""
    from nhi import imports

    imports.import_check(import_id)


@shared_task(name="nhi.tasks.import_apply", ignore_result=True)
def import_apply(import_id: int, actor_id: int | None = None) -> None:
    """Write a claimed import, all or nothing (``nhi.imports.import_apply_now``)."""
    from nhi import imports

    imports.import_apply_now(import_id, actor_id)
