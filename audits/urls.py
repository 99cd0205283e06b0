"""Every audit-scoped URL names its audit ``audit_id``: the auditor access log reads that
kwarg to file each request under its audit (see ``audits.middleware``)."""

from django.urls import path

from audits.views import engagements, portal, reports, requests, samples

app_name = "audits"

urlpatterns = [
    path("", engagements.audit_list, name="list"),
    path("new/", engagements.audit_create, name="new"),
    path("<int:audit_id>/", engagements.audit_detail, name="detail"),
    path("<int:audit_id>/edit/", engagements.audit_edit, name="edit"),
    path("<int:audit_id>/status/", engagements.audit_status, name="status"),
    path("<int:audit_id>/auditors/", engagements.auditor_set, name="auditor_set"),
    path("<int:audit_id>/auditors/end/", engagements.auditor_end, name="auditor_end"),
    path("<int:audit_id>/access/", engagements.access_log, name="access_log"),
    path("<int:audit_id>/coverage/", portal.coverage, name="coverage"),
    path("<int:audit_id>/scope/", portal.scope, name="scope"),
    path("<int:audit_id>/evidence/", portal.evidence_list, name="evidence_list"),
    path("<int:audit_id>/evidence/<int:pk>/", portal.evidence_detail, name="evidence_detail"),
    path("<int:audit_id>/files/<int:pk>/download/", portal.file_download, name="file_download"),
    path("<int:audit_id>/exceptions/", portal.exception_register, name="exceptions"),
    path("<int:audit_id>/identities/", portal.nhi_summary, name="nhi"),
    path("<int:audit_id>/requests/", requests.request_list, name="request_list"),
    path("<int:audit_id>/requests/new/", requests.request_new, name="request_new"),
    path("<int:audit_id>/requests/<int:number>/", requests.request_detail, name="request_detail"),
    path("<int:audit_id>/requests/<int:number>/comment/", requests.request_comment, name="request_comment"),
    path("<int:audit_id>/requests/<int:number>/decide/", requests.request_decide, name="request_decide"),
    path("<int:audit_id>/samples/", samples.sample_list, name="sample_list"),
    path("<int:audit_id>/samples/new/", samples.sample_new, name="sample_new"),
    path("<int:audit_id>/samples/<int:pk>/", samples.sample_detail, name="sample_detail"),
    path("<int:audit_id>/reports/", reports.report_list, name="report_list"),
    path("<int:audit_id>/reports/new/", reports.report_new, name="report_new"),
    path("<int:audit_id>/reports/<int:pk>/", reports.report_detail, name="report_detail"),
    path("<int:audit_id>/reports/<int:pk>/download/", reports.report_download, name="report_download"),
]
