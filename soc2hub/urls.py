from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from soc2hub import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("teams/", views.team_list, name="team_list"),
    path("teams/<slug:slug>/", views.team_detail, name="team_detail"),
    path("activity/", views.activity_list, name="activity_list"),
    path("healthz", views.healthz, name="healthz"),
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
