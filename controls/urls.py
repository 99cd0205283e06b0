from django.urls import path

from controls import views

urlpatterns = [
    path("matrix/", views.ownership_matrix, name="ownership_matrix"),
    path("criteria/<str:code>/", views.criterion_detail, name="criterion_detail"),
    path("criteria/<str:code>/owners/", views.criterion_owner_change, name="criterion_owner_change"),
    path("controls/", views.control_list, name="control_list"),
    path("controls/new/", views.control_create, name="control_create"),
    path("controls/<str:ref>/", views.control_detail, name="control_detail"),
    path("controls/<str:ref>/edit/", views.control_edit, name="control_edit"),
    path("controls/<str:ref>/exception-reviewed/", views.control_exception_lapse_clear,
         name="control_exception_lapse_clear"),
]
