from django.urls import path

from evidence import views

app_name = "evidence"

urlpatterns = [
    path("", views.request_list, name="request_list"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/submit/", views.request_submit, name="request_submit"),
    path("review/", views.review_queue, name="review_queue"),
    path("submissions/<int:pk>/approve/", views.evidence_approve, name="evidence_approve"),
    path("submissions/<int:pk>/return/", views.evidence_return, name="evidence_return"),
    path("files/<int:pk>/download/", views.file_download, name="file_download"),
    path("templates/", views.template_list, name="template_list"),
    path("templates/new/", views.template_create, name="template_create"),
    path("templates/<int:pk>/", views.template_detail, name="template_detail"),
    path("templates/<int:pk>/edit/", views.template_edit, name="template_edit"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("teams/<slug:slug>/calendar/", views.calendar_manage, name="calendar_manage"),
]
