from django.urls import path

from nhi.views import campaigns, imports, inventory

app_name = "nhi"

urlpatterns = [
    path("", inventory.inventory, name="inventory"),
    path("summary/", inventory.summary, name="summary"),
    path("export.csv", inventory.export_csv, name="export"),
    path("new/", inventory.create, name="create"),
    path("<int:pk>/", inventory.detail, name="detail"),
    path("<int:pk>/edit/", inventory.edit, name="edit"),
    path("<int:pk>/rotate/", inventory.rotate, name="rotate"),
    path("<int:pk>/revoke/", inventory.revoke, name="revoke"),
    path("<int:pk>/transfer/", inventory.transfer, name="transfer"),
    path("imports/", imports.import_list, name="import_list"),
    path("imports/new/", imports.import_create, name="import_create"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:pk>/apply/", imports.import_apply, name="import_apply"),
    path("imports/<int:pk>/discard/", imports.import_discard, name="import_discard"),
    path("campaigns/", campaigns.campaign_list, name="campaign_list"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign_create"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/attest/", campaigns.attest, name="attest"),
    path("campaigns/<int:pk>/close/", campaigns.campaign_close, name="campaign_close"),
]
