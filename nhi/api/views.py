"""The NHI API: the inventory's selectors, filters and lifecycle services, as JSON."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from controls.models import Control
from nhi import selectors, services
from nhi.api.serializers import NhiSerializer, RevokeSerializer, RotateSerializer, TransferSerializer
from nhi.filtersets import NhiFilterSet
from soc2hub.api_errors import as_drf_error


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

    def _run(self, func, **kwargs):
        try:
            return func(**kwargs)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc

    def _respond(self, nhi):
        return Response(self.get_serializer(self.get_queryset().get(pk=nhi.pk)).data)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        nhi = self._run(services.nhi_create, actor=self.request.user, controls=data.pop("controls", []), **data)
        serializer.instance = self.get_queryset().get(pk=nhi.pk)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        nhi = self._run(services.nhi_update, nhi=serializer.instance, actor=self.request.user,
                        controls=data.pop("controls", None), **data)
        serializer.instance = self.get_queryset().get(pk=nhi.pk)

    def _body(self, serializer_class):
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    @extend_schema(request=RotateSerializer, responses=NhiSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        nhi = self.get_object()
        self._run(services.nhi_rotate, nhi=nhi, actor=request.user, **self._body(RotateSerializer))
        return self._respond(nhi)

    @extend_schema(request=RevokeSerializer, responses=NhiSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        nhi = self.get_object()
        self._run(services.nhi_revoke, nhi=nhi, actor=request.user, **self._body(RevokeSerializer))
        return self._respond(nhi)

    @extend_schema(request=TransferSerializer, responses=NhiSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        nhi = self.get_object()
        self._run(services.nhi_transfer, nhi=nhi, actor=request.user, **self._body(TransferSerializer))
        return self._respond(nhi)
