from django.contrib import admin
from allauth.account import views as account_views
from django.urls import include, path

from soc2hub import auth_views, health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", account_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("allauth.urls")),
    path("security/lockouts/", auth_views.lockout_list, name="lockout_list"),
    path("security/lockouts/unlock/", auth_views.lockout_unlock, name="lockout_unlock"),
    path("teams/", views.team_list, name="team_list"),
    path("teams/<slug:slug>/", views.team_detail, name="team_detail"),
    path("activity/", views.activity_list, name="activity_list"),
    path("jobs/", views.job_list, name="job_list"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/read/", views.notifications_mark_read, name="notifications_mark_read"),
    path("evidence/", include("evidence.urls")),
    path("exceptions/", include("exceptions.urls")),
    path("nhi/", include("nhi.urls")),
    path("audits/", include("audits.urls")),
    path("", include("controls.urls")),
    path("api/v1/", include("soc2hub.api")),
    path("admin/", admin.site.urls),
]

# Branded pages, or JSON under /api/; never Django's debug pages (soc2hub.error_views).
handler400 = "soc2hub.error_views.bad_request"
handler403 = "soc2hub.error_views.permission_denied"
handler404 = "soc2hub.error_views.page_not_found"
handler500 = "soc2hub.error_views.server_error"
