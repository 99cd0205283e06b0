from rest_framework import mixins, viewsets

from controls import selectors, services
from controls.api.serializers import ControlSerializer, CriterionSerializer
from controls.filtersets import ControlFilterSet, CriterionFilterSet


class CriterionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                       viewsets.GenericViewSet):
    """The 61 Trust Services Criteria with their three owners. Security may change owners
    (PATCH with team slugs or null); everything else about a criterion comes from the catalog."""

    serializer_class = CriterionSerializer
    lookup_field = "code"
    lookup_value_regex = r"[^/]+"
    filterset_class = CriterionFilterSet
    ordering_fields = ["sort_order", "code"]
    permission_actions = {"update": "change_owners", "partial_update": "change_owners"}

    def get_queryset(self):
        return selectors.criteria_for_matrix(user=self.request.user)

    def perform_update(self, serializer):
        owners = {k: v for k, v in serializer.validated_data.items() if k in ("business_owner", "control_owner",
                                                                              "evidence_owner")}
        services.criterion_set_owners(criterion=serializer.instance, actor=self.request.user, owners=owners)
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)


class ControlViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """The organisation's controls. Security creates and edits them (a delegated person may edit
    the control they were granted); only Security changes owners."""

    serializer_class = ControlSerializer
    lookup_field = "ref"
    filterset_class = ControlFilterSet
    ordering_fields = ["ref", "name", "status", "frequency"]

    def get_queryset(self):
        return selectors.controls_for_list(user=self.request.user).prefetch_related("crosswalk")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        control = services.control_create(
            actor=self.request.user, criteria=data.pop("criteria"), crosswalk=data.pop("crosswalk", []), **data
        )
        serializer.instance = self.get_queryset().get(pk=control.pk)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("ref", None)
        control = services.control_update(
            control=serializer.instance,
            actor=self.request.user,
            criteria=data.pop("criteria", None),
            crosswalk=data.pop("crosswalk", None),
            **data,
        )
        serializer.instance = self.get_queryset().get(pk=control.pk)
