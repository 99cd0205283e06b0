"""The NHI API: the inventory's selectors, filters and lifecycle services, as JSON."""

from django.db.models import Count, Prefetch, Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from controls.models import Control
from nhi import campaigns, imports, selectors, services
from nhi.api.serializers import (
    AttestationItemSerializer,
    AttestSerializer,
    CampaignSerializer,
    NhiImportSerializer,
    NhiImportUploadSerializer,
    NhiSerializer,
    RevokeSerializer,
    RotateSerializer,
    TransferSerializer,
)
from nhi.filtersets import NhiFilterSet
from nhi.models import AttestationCampaign, AttestationDecision, NhiImport, NonHumanIdentity
from soc2hub import permissions
from soc2hub.api_errors import UploadTooLarge


class NhiViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                 mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Non-human identities with their derived state. Filters as in the inventory page
    (kind, status, environment, team, overdue, never_rotated, stale, orphaned, expiring, q)."""

    serializer_class = NhiSerializer
    filterset_class = NhiFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    permission_actions = {"rotate": "rotate", "revoke": "revoke", "transfer": "transfer"}

    def get_queryset(self):
        return selectors.inventory(user=self.request.user).prefetch_related(
            Prefetch("controls", queryset=Control.objects.only("id", "ref"))).order_by("name", "id")

    def _respond(self, nhi):
        # Unscoped on purpose: after a transfer away the caller may no longer see it in their list.
        return Response(self.get_serializer(
            NonHumanIdentity.objects.with_state().select_related("owner_team", "technical_owner")
            .prefetch_related("controls").get(pk=nhi.pk)).data)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        nhi = services.nhi_create(actor=self.request.user, controls=data.pop("controls", []), **data)
        serializer.instance = self.get_queryset().get(pk=nhi.pk)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        nhi = services.nhi_update(nhi=serializer.instance, actor=self.request.user,
                                  controls=data.pop("controls", None), **data)
        serializer.instance = self.get_queryset().get(pk=nhi.pk)

    def _body(self, serializer_class):
        body = serializer_class(data=self.request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return body.validated_data

    @extend_schema(request=RotateSerializer, responses=NhiSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        nhi = self.get_object()
        services.nhi_rotate(nhi=nhi, actor=request.user, **self._body(RotateSerializer))
        return self._respond(nhi)

    @extend_schema(request=RevokeSerializer, responses=NhiSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        nhi = self.get_object()
        services.nhi_revoke(nhi=nhi, actor=request.user, **self._body(RevokeSerializer))
        return self._respond(nhi)

    @extend_schema(request=TransferSerializer, responses=NhiSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        nhi = self.get_object()
        services.nhi_transfer(nhi=nhi, actor=request.user, **self._body(TransferSerializer))
        return self._respond(nhi)


class AttestationCampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                                 viewsets.GenericViewSet):
    """Attestation campaigns. Security opens (POST) and closes them; owner teams attest their
    identities (POST .../attest/ with an item id); ``items`` lists what the caller may attest."""

    serializer_class = CampaignSerializer
    permission_actions = {"close": "close", "attest": "view", "items": "view"}

    def get_queryset(self):
        pending = Q(items__decision=AttestationDecision.PENDING)
        return permissions.restrict(AttestationCampaign.objects.all(), self.request.user).annotate(
            item_count=Count("items", distinct=True), pending_count=Count("items", filter=pending, distinct=True),
        ).prefetch_related("teams").order_by("-created_at")

    def perform_create(self, serializer):
        campaign = campaigns.campaign_open(actor=self.request.user, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=campaign.pk)

    def _items(self, campaign):
        return permissions.restrict(campaign.items.all(), self.request.user, permissions.ATTEST).select_related(
            "nhi", "owner_team", "decided_by").order_by("nhi__name", "pk")

    @extend_schema(responses=AttestationItemSerializer(many=True))
    @action(detail=True, methods=["get"])
    def items(self, request, pk=None):
        page = self.paginate_queryset(self._items(self.get_object()))
        return self.get_paginated_response(AttestationItemSerializer(page, many=True).data)

    @extend_schema(request=AttestSerializer, responses=AttestationItemSerializer)
    @action(detail=True, methods=["post"])
    def attest(self, request, pk=None):
        campaign = self.get_object()
        body = AttestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        item = self._items(campaign).filter(pk=data.pop("item")).first()
        if item is None:
            raise NotFound("No such item in this campaign among the identities you may confirm.")
        item = campaigns.item_attest(item=item, actor=request.user, **data)
        return Response(AttestationItemSerializer(item).data)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        campaign = campaigns.campaign_close(campaign=self.get_object(), actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=campaign.pk)).data)


class NhiImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       viewsets.GenericViewSet):
    """Imports (Security). POST a file with its ``format`` (csv, aws-credential-report,
    k8s-serviceaccounts); the check runs in the background: poll the import until its status
    is ``previewed`` (or ``failed``), then POST .../apply/ — or send ``dry_run=false`` to apply
    as soon as the check finds no error. Applying is all or nothing. POST .../discard/ drops a
    preview you will not apply. A failed, refused or discarded import's file is removed."""

    serializer_class = NhiImportSerializer
    parser_classes = [MultiPartParser, FormParser]
    permission_actions = {"create": "import", "apply": "import", "discard": "import", "list": "import",
                          "retrieve": "import"}

    def get_queryset(self):
        return NhiImport.objects.select_related("created_by", "default_team").order_by("-created_at")

    def get_object(self):
        permissions.require(self.request.user, permissions.IMPORT, NhiImport)
        return super().get_object()

    @extend_schema(request=NhiImportUploadSerializer, responses={201: NhiImportSerializer})
    def create(self, request, *args, **kwargs):
        data = request.data  # parsing runs the upload handlers, which stop an oversized file mid-stream
        refused = getattr(request._request, "upload_refused", None)  # see soc2hub.uploads
        if refused:
            raise UploadTooLarge(refused)
        body = NhiImportUploadSerializer(data=data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        apply_when_clean = not data.pop("dry_run")
        imp = imports.import_create(actor=request.user, upload=data.pop("file"), **data,
                                    apply_when_clean=apply_when_clean)
        return Response(self.get_serializer(self.get_queryset().get(pk=imp.pk)).data, status=201)

    @extend_schema(request=None, responses=NhiImportSerializer)
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        imp = imports.import_apply(imp=self.get_object(), actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=imp.pk)).data)

    @extend_schema(request=None, responses=NhiImportSerializer)
    @action(detail=True, methods=["post"])
    def discard(self, request, pk=None):
        imp = imports.import_discard(imp=self.get_object(), actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=imp.pk)).data)
