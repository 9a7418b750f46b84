from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from core.serializers import ModelSerializer, PageURLField, PrimaryKeyRelatedField
from incidents.models import Contact, EscalationStep
from oncall.models import Layer, Override, Schedule
from oncall.services import check_layer


class OnCallScheduleSerializer(ModelSerializer):
    url = PageURLField("oncall:detail")
    escalation_steps = PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=EscalationStep.objects.all(),
        help_text=_("Escalation steps that page whoever is on call here."),
    )

    class Meta:
        model = Schedule
        fields = ["id", "url", "name", "description", "escalation_steps", "created_at"]
        read_only_fields = ["created_at"]


class RotationField(serializers.ListField):
    """A layer's rotation in order: the model's many-to-many has no order, its memberships do."""

    def get_attribute(self, instance):
        return instance.member_ids()

    def to_representation(self, data):
        return list(data)


class OnCallLayerSerializer(ModelSerializer):
    members = RotationField(
        child=PrimaryKeyRelatedField(queryset=Contact.objects.all()),
        min_length=1,
        max_length=100,
        error_messages={"min_length": _("A rotation needs at least one person.")},
        help_text=_("The rotation: contact ids in order."),
    )
    restrict_weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        max_length=7,
        required=False,
        help_text=_("Only on these weekdays (0 = Monday); empty: every day."),
    )

    class Meta:
        model = Layer
        fields = [
            "id",
            "schedule",
            "name",
            "level",
            "rotation",
            "rotation_days",
            "handoff_weekday",
            "handoff_hour",
            "handoff_minute",
            "starts_on",
            "restrict_weekdays",
            "restrict_from",
            "restrict_to",
            "members",
        ]

    def validate(self, attrs):
        members = attrs.pop("members", None)
        if members is None:
            members = [Contact(pk=pk) for pk in self.instance.member_ids()] if self.instance else []
        layer = self.instance or Layer()
        for name, value in attrs.items():
            setattr(layer, name, value)
        try:
            check_layer(layer, [m.pk for m in members])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(get_error_detail(exc)) from None
        self._layer, self._member_ids = layer, [m.pk for m in members]
        return attrs

    def save(self, **kwargs):
        from oncall.services import save_layer

        for name, value in kwargs.items():
            setattr(self._layer, name, value)
        self.instance = save_layer(layer=self._layer, member_ids=self._member_ids)
        return self.instance


class OnCallOverrideSerializer(ModelSerializer):
    class Meta:
        model = Override
        fields = [
            "id",
            "schedule",
            "contact",
            "covers_for",
            "starts_at",
            "ends_at",
            "reason",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["created_by", "created_at"]

    def validate(self, attrs):
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts and ends and ends <= starts:
            raise serializers.ValidationError(
                {"ends_at": [_("An override must end after it starts.")]}, code="rule"
            )
        return attrs


class OnCallShiftSerializer(serializers.Serializer):
    contact = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class OnCallNowSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    current = OnCallShiftSerializer(allow_null=True)
    next = OnCallShiftSerializer(allow_null=True)
