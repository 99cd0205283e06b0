from django.urls import path

from exceptions import views

app_name = "exceptions"

urlpatterns = [
    path("", views.register, name="register"),
    path("register.pdf", views.register_pdf, name="register_pdf"),
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/review/", views.review, name="review"),
    path("<int:pk>/sign/", views.sign, name="sign"),
    path("<int:pk>/revoke/", views.revoke, name="revoke"),
    path("<int:pk>/close/", views.close, name="close"),
    path("<int:pk>/pdf/", views.exception_pdf, name="pdf"),
]
