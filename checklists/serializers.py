from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from checklists import schedules
from checklists.markdown import render
from checklists.models import (
    HandoverNote,
    Item,
    ItemState,
    Kind,
    Playbook,
    Run,
    RunItem,
    RunStatus,
    Section,
    Template,
)
from core.parsers import JSONSerializerField
from core.serializers import (
    BooleanField,
    CharField,
    ModelSerializer,
    PrimaryKeyRelatedField,
    whole_nested,
)

# Named choice fields: several apps have a "kind" or "status" enum, and the
# OpenAPI schema needs each to have its own name (see the ENUM_NAME_OVERRIDES note).
TICK_STATES = [(s.value, s.label) for s in ItemState if s != ItemState.OPEN]


class ChecklistKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=Kind.choices, **kwargs)


class ItemSerializer(ModelSerializer):
    class Meta:
        model = Item
        fields = ["id", "text", "details", "command", "expected", "required", "probe"]


class SectionSerializer(ModelSerializer):
    items = ItemSerializer(many=True)

    class Meta:
        model = Section
        fields = ["id", "title", "items"]


class TemplateSerializer(ModelSerializer):
    kind = ChecklistKindField(required=False)
    sections = SectionSerializer(many=True, required=False)
    schedule_description = CharField(source="schedule_text", read_only=True)

    class Meta:
        model = Template
        fields = [
            "id",
            "name",
            "kind",
            "description",
            "service",
            "incident_category",
            "schedule",
            "on_holiday",
            "schedule_description",
            "due_window",
            "assignee_tier",
            "assignee_contact",
            "assignee_group",
            "active",
            "version",
            "sections",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["version", "created_at", "updated_at"]

    def to_internal_value(self, data):
        whole_nested(self, data, "sections")
        return super().to_internal_value(data)

    def validate_schedule(self, value):
        if not value:
            return ""
        try:
            return schedules.validate(value)
        except schedules.ScheduleError as exc:
            raise serializers.ValidationError(str(exc), code="cron") from None


class RunItemSerializer(ModelSerializer):
    by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = RunItem
        fields = [
            "id",
            "position",
            "section",
            "text",
            "details",
            "command",
            "expected",
            "required",
            "probe",
            "state",
            "by",
            "at",
            "note",
            "value",
            "incident",
        ]
        read_only_fields = fields


class RunStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=RunStatus.choices, **kwargs)


class RunSerializer(ModelSerializer):
    status = RunStatusField(read_only=True)
    items = RunItemSerializer(many=True, read_only=True)
    handled = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "template",
            "template_version",
            "name",
            "occurrence",
            "status",
            "due_at",
            "incident",
            "assignee_tier",
            "assignee_contact",
            "assignee_group",
            "created_at",
            "started_at",
            "completed_at",
            "handled",
            "total",
            "items",
        ]
        read_only_fields = fields

    def get_handled(self, run) -> int:
        return run.progress()[0]

    def get_total(self, run) -> int:
        return run.progress()[1]


class RunListSerializer(RunSerializer):
    """A run without its items, for lists (a page of runs would carry ten times as many items);
    GET /checklist-runs/<id> has them."""

    items = None

    class Meta(RunSerializer.Meta):
        fields = [name for name in RunSerializer.Meta.fields if name != "items"]
        read_only_fields = fields


class RunStartSerializer(serializers.Serializer):
    template = PrimaryKeyRelatedField(queryset=Template.objects.all())
    incident = PrimaryKeyRelatedField(
        queryset=Run._meta.get_field("incident").related_model.objects,
        required=False,
        allow_null=True,
    )


class TickSerializer(serializers.Serializer):
    item = serializers.IntegerField(help_text=_("The id of the run item."))
    state = serializers.ChoiceField(
        choices=TICK_STATES, required=False, help_text=_("Required unless from_probe is set.")
    )
    note = CharField(required=False, allow_blank=True, max_length=2000)
    value = CharField(required=False, allow_blank=True, max_length=200)
    from_probe = BooleanField(required=False, default=False)

    def validate(self, data):
        if not data.get("from_probe") and not data.get("state"):
            raise serializers.ValidationError(
                {"state": _("Choose done, failed, skipped or n/a.")}, code="rule"
            )
        return data


class UntickSerializer(serializers.Serializer):
    item = serializers.IntegerField(help_text=_("The id of the run item."))


class CompleteSerializer(serializers.Serializer):
    risks = CharField(required=False, allow_blank=True)
    probes = CharField(required=False, allow_blank=True)
    planned_changes = CharField(required=False, allow_blank=True)
    text = CharField(required=False, allow_blank=True)


class HandoverNoteSerializer(ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    acknowledged_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = HandoverNote
        fields = [
            "id",
            "run",
            "author",
            "created_at",
            "open_incidents",
            "risks",
            "probes",
            "planned_changes",
            "text",
            "acknowledged_at",
            "acknowledged_by",
        ]
        read_only_fields = fields


class PlaybookSerializer(ModelSerializer):
    html = serializers.SerializerMethodField(help_text=_("The body rendered and sanitised."))

    class Meta:
        model = Playbook
        fields = ["id", "title", "service", "category", "template", "body", "html", "updated_at"]
        read_only_fields = ["updated_at"]

    def get_html(self, playbook) -> str:
        return render(playbook.body)

    def validate(self, data):
        service = data.get("service", getattr(self.instance, "service", None))
        category = data.get("category", getattr(self.instance, "category", ""))
        if service is None and not category:
            raise serializers.ValidationError(_("Give a service, a category or both."), code="rule")
        return data


class RunbookImportSerializer(serializers.Serializer):
    file = serializers.FileField()
    service = PrimaryKeyRelatedField(
        queryset=Template._meta.get_field("service").related_model.objects, required=False
    )
    dry_run = BooleanField(default=True)
    choices = JSONSerializerField(
        required=False,
        binary=True,
        help_text=_(
            'Per section key: {"action": "template"|"playbook"|"skip", "cron": "0 9 * * *"}.'
        ),
    )

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # A multipart field holds choices as JSON text, which no schema can check.
            if "choices" in exc.detail and exc.get_codes()["choices"] == ["invalid"]:
                exc.detail["choices"] = [
                    serializers.ErrorDetail(exc.detail["choices"][0], code="json")
                ]
            raise

    def validate_choices(self, value):
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise serializers.ValidationError(
                _("An object of objects, keyed by section key."), code="json"
            )
        return value
