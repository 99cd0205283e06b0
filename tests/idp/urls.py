from django.contrib.auth.views import LogoutView
from django.urls import include, path

from tests.idp import views

urlpatterns = [
    path("login/", views.IdpLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="/login/"), name="logout"),
    path("openid/", include("oidc_provider.urls", namespace="oidc_provider")),
]
