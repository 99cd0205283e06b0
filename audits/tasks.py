"""Report work, run by Celery. Tasks take ids and call one function; a redelivered or
duplicated task finds the job already claimed and returns."""

from celery import shared_task


@shared_task(name="audits.tasks.report_generate", ignore_result=True)
def report_generate(job_id: int) -> None:
    from audits import reports

    reports.report_generate(job_id)
