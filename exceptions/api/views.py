"""The exceptions API: the same services and permission rules as the pages."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from controls.models import Control, Criterion
from exceptions import selectors, services
from exceptions.api.serializers import ExceptionSerializer, ReasonSerializer, ReviewSerializer, SignSerializer
from exceptions.filtersets import ExceptionFilterSet
from exceptions.models import ExceptionSignature
from soc2hub.auth import client_ip


class ExceptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Exceptions. Any change to signed content (PATCH) voids the signatures and sends the
    exception back to submitted, exactly as the edit page does."""

    serializer_class = ExceptionSerializer
    filterset_class = ExceptionFilterSet
    ordering_fields = ["expires_on", "created_at", "status"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    permission_actions = {"submit": "submit", "review": "review", "sign": "sign", "revoke": "revoke",
                          "close": "close", "partial_update": "change"}

    def get_queryset(self):
        return selectors.exceptions_for_list(user=self.request.user).prefetch_related(
            Prefetch("controls", queryset=Control.objects.only("id", "ref")),
            Prefetch("criteria", queryset=Criterion.objects.only("id", "code")),
            Prefetch("signatures", queryset=ExceptionSignature.objects.select_related("signer")),
            "versions", "nhis",
        )

    def _fresh(self, pk):
        return self.get_queryset().get(pk=pk)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        exception = services.exception_create(actor=self.request.user,
                                              controls=data.pop("controls", []), criteria=data.pop("criteria", []),
                                              nhis=data.pop("nhis", []), **data)
        serializer.instance = self._fresh(exception.pk)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("requesting_team", None)
        exception = services.exception_update(exception=serializer.instance, actor=self.request.user,
                                              controls=data.pop("controls", None), criteria=data.pop("criteria", None),
                                              nhis=data.pop("nhis", None), **data)
        serializer.instance = self._fresh(exception.pk)

    def _respond(self, exception):
        return Response(self.get_serializer(self._fresh(exception.pk)).data)

    @extend_schema(request=None, responses=ExceptionSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._respond(services.exception_submit(exception=self.get_object(), actor=request.user))

    @extend_schema(request=ReviewSerializer, responses=ExceptionSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        exception = self.get_object()
        body = ReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(services.exception_review(exception=exception, reviewer=request.user,
                                                       **body.validated_data))

    @extend_schema(request=SignSerializer, responses=ExceptionSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        exception = self.get_object()
        body = SignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.exception_sign(exception=exception, signer=request.user, request=request,
                                ip_address=client_ip(request), **body.validated_data)
        return self._respond(exception)

    @extend_schema(request=ReasonSerializer, responses=ExceptionSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        exception = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(services.exception_revoke(exception=exception, actor=request.user,
                                                       **body.validated_data))

    @extend_schema(request=ReasonSerializer, responses=ExceptionSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        exception = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(services.exception_close(exception=exception, actor=request.user,
                                                      **body.validated_data))
