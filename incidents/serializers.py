"""REST shapes of the incidents app. Serializers check shape; services decide."""

import re
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from core.outbound import validate_outbound_url
from core.secrets import keep_stored
from core.serializers import (
    MAX_ID,
    BooleanField,
    CharField,
    DurationField,
    ModelSerializer,
    PageURLField,
    PrimaryKeyRelatedField,
    whole_nested,
)
from incidents import korean_channels
from incidents.apprise_channels import target_error
from incidents.models import (
    DECLARABLE_SOURCE_CHOICES,
    ActionItem,
    ChannelKind,
    Contact,
    EscalationPolicy,
    EscalationStep,
    Incident,
    MaintenanceWindow,
    Notification,
    NotificationChannel,
    Postmortem,
    RecurringMaintenanceWindow,
    Route,
    RouteEvent,
    Scope,
    Service,
    Severity,
    Source,
    Tier,
    TimelineEvent,
    shown_target,
)
from incidents.reports import MAX_MONTHS

NON_NEGATIVE = timedelta(0)


class ServiceSerializer(ModelSerializer):
    rto = DurationField(
        required=False, allow_null=True, min_value=NON_NEGATIVE, help_text=_("Seconds or HH:MM:SS.")
    )
    rpo = DurationField(
        required=False, allow_null=True, min_value=NON_NEGATIVE, help_text=_("Seconds or HH:MM:SS.")
    )
    tolerable_rto = DurationField(
        required=False, allow_null=True, min_value=NON_NEGATIVE, help_text=_("Seconds or HH:MM:SS.")
    )
    tolerable_rpo = DurationField(
        required=False, allow_null=True, min_value=NON_NEGATIVE, help_text=_("Seconds or HH:MM:SS.")
    )

    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "description",
            "owner",
            "rto",
            "rpo",
            "tolerable_rto",
            "tolerable_rpo",
            "runbook_url",
            "dashboard_url",
            "created_at",
        ]
        read_only_fields = ["created_at"]


class TierSerializer(ModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "level", "name", "description"]


def validate_channel_target(kind: str, target: str) -> None:
    """An e-mail channel needs an address; a webhook an http(s) URL; Apprise kinds a URL Apprise
    knows."""
    if kind in (ChannelKind.APPRISE, ChannelKind.SMS):
        if error := target_error(kind, target or ""):
            raise serializers.ValidationError({"target": [error]}, code="url")
        validator, code = (lambda value: None), "url"
    elif kind == ChannelKind.EMAIL:
        validator, code = EmailValidator(message=_("Enter a valid e-mail address.")), "email"
    else:
        validator, code = (
            URLValidator(schemes=["http", "https"], message=_("Enter an http:// or https:// URL.")),
            "url",
        )
    try:
        validator(target)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"target": exc.messages}, code=code) from exc
    if kind != ChannelKind.EMAIL:
        try:
            validate_outbound_url(target)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"target": exc.messages}, code=exc.code) from exc
    if error := korean_channels.target_error(kind, target):
        raise serializers.ValidationError({"target": [error]}, code="url")


def keep_masked_target(attrs: dict, channel: NotificationChannel | None) -> None:
    """A target sent back exactly as it was shown (masked) keeps the stored one."""
    if (
        channel is not None
        and "target" in attrs
        and attrs.get("kind", channel.kind) == channel.kind
    ):
        attrs["target"] = keep_stored(
            attrs["target"], channel.target, lambda t: shown_target(channel.kind, t)
        )


class NotificationChannelSerializer(ModelSerializer):
    """`target` is written in full and read back masked: a webhook URL is a credential."""

    class Meta:
        model = NotificationChannel
        fields = ["id", "contact", "kind", "target", "enabled", "resolution_notices"]

    def validate(self, attrs):
        keep_masked_target(attrs, self.instance)
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        target = attrs.get("target", getattr(self.instance, "target", ""))
        validate_channel_target(kind, target)
        return attrs

    def to_representation(self, instance):
        return {**super().to_representation(instance), "target": instance.shown_target}


class ChannelTestSerializer(serializers.Serializer):
    """What a test message to a channel came to."""

    sent = serializers.BooleanField(help_text=_("Whether the channel's service took the message."))
    error = serializers.CharField(
        allow_blank=True,
        help_text=_("Why it did not, with the channel's address masked; empty when it was sent."),
    )


class NestedChannelSerializer(ModelSerializer):
    """A channel inside its contact: `id` picks an existing one to update."""

    id = serializers.IntegerField(required=False)

    class Meta:
        model = NotificationChannel
        fields = ["id", "kind", "target", "enabled"]

    def validate(self, attrs):
        # A partial update of the contact leaves out what a channel does not change; a channel
        # it names by id keeps its stored kind and target, a new one must give both.
        stored = self._stored(attrs.get("id"))
        kind = attrs.get("kind", getattr(stored, "kind", None))
        target = attrs.get("target", getattr(stored, "target", None))
        missing = {
            name: [_("This field is required.")]
            for name, value in (("kind", kind), ("target", target))
            if value is None
        }
        if missing:
            raise serializers.ValidationError(missing, code="required")
        if "kind" in attrs or "target" in attrs:
            validate_channel_target(kind, attrs.get("target", target))
        return attrs

    def _stored(self, pk):
        contact = getattr(self.root, "instance", None)
        if pk is None or not isinstance(contact, Contact):
            return None
        return next((channel for channel in contact.channels.all() if channel.pk == pk), None)

    def to_representation(self, instance):
        return {**super().to_representation(instance), "target": instance.shown_target}


class ContactSerializer(ModelSerializer):
    work_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        max_length=7,
        help_text=_("Weekdays in the portal's time zone, Monday = 0."),
    )
    channels = NestedChannelSerializer(many=True, required=False)

    class Meta:
        model = Contact
        fields = [
            "id",
            "name",
            "role",
            "tier",
            "phone",
            "email",
            "chat_handle",
            "availability",
            "work_start",
            "work_end",
            "work_days",
            "active",
            "user",
            "channels",
        ]

    def validate_work_days(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError(_("Each weekday may appear only once."), code="rule")
        return sorted(value)

    def validate(self, attrs):
        start = attrs.get("work_start", getattr(self.instance, "work_start", None))
        end = attrs.get("work_end", getattr(self.instance, "work_end", None))
        if start is not None and start == end:
            raise serializers.ValidationError(
                {"work_end": [_("Working hours must not start and end at once.")]}, code="rule"
            )
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        channels = validated_data.pop("channels", [])
        contact = super().create(validated_data)
        NotificationChannel.objects.bulk_create(
            NotificationChannel(contact=contact, **{k: v for k, v in c.items() if k != "id"})
            for c in channels
        )
        return contact

    @transaction.atomic
    def update(self, instance, validated_data):
        channels = validated_data.pop("channels", None)
        contact = super().update(instance, validated_data)
        if channels is not None:
            # The list given is the whole set: listed ids are updated, new ones
            # created, the rest deleted. Kept ids keep their notification history.
            existing = {c.pk: c for c in contact.channels.all()}
            keep = set()
            for data in channels:
                pk = data.pop("id", None)
                if pk is not None and pk not in existing:
                    raise serializers.ValidationError(
                        {"channels": [_("Channel %(id)s is not this contact's.") % {"id": pk}]}
                    )
                channel = existing.get(pk) or NotificationChannel(contact=contact)
                keep_masked_target(data, channel if channel.pk else None)
                for key, value in data.items():
                    setattr(channel, key, value)
                channel.save()
                keep.add(channel.pk)
            contact.channels.exclude(pk__in=keep).delete()
        return contact


class EscalationStepSerializer(ModelSerializer):
    position = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text=_("Order of the step; defaults to its place in the list."),
    )
    after = DurationField(
        min_value=NON_NEGATIVE, help_text=_("Delay from the trigger time: seconds or HH:MM:SS.")
    )
    contacts = PrimaryKeyRelatedField(many=True, required=False, queryset=Contact.objects.all())

    class Meta:
        model = EscalationStep
        fields = ["id", "position", "after", "tier", "contacts", "condition", "business_hours_only"]
        read_only_fields = ["id"]
        validators = []

    def validate(self, attrs):
        if not attrs.get("tier") and not attrs.get("contacts"):
            raise serializers.ValidationError(
                {"tier": [_("A step needs a target: a tier or at least one contact.")]}, code="rule"
            )
        return attrs


class EscalationPolicySerializer(ModelSerializer):
    """A policy with its steps, validated and saved as one whole."""

    steps = EscalationStepSerializer(many=True, required=False)
    repeat_every = DurationField(
        required=False,
        allow_null=True,
        min_value=timedelta(minutes=1),
        help_text=_("Seconds or HH:MM:SS; at least one minute."),
    )

    class Meta:
        model = EscalationPolicy
        fields = [
            "id",
            "name",
            "service",
            "severity",
            "repeat_every",
            "repeat_limit",
            "steps",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
        # Uniqueness per (service, severity) is checked in validate(): the
        # generated validators would make `service` required, but empty means
        # "the default policy".
        validators = []

    def to_internal_value(self, data):
        whole_nested(self, data, "steps")
        return super().to_internal_value(data)

    def validate_steps(self, steps):
        for index, step in enumerate(steps):
            step.setdefault("position", index)
        positions = [step["position"] for step in steps]
        if len(set(positions)) != len(positions):
            raise serializers.ValidationError(_("Step positions must be unique."), code="rule")
        return steps

    def validate(self, attrs):
        def get(name):
            return attrs.get(name, getattr(self.instance, name, None))

        if (get("repeat_limit") or 0) > 0 and not get("repeat_every"):
            raise serializers.ValidationError(
                {
                    "repeat_every": [
                        _("Say how often to repeat when the repeat limit is above zero.")
                    ]
                },
                code="rule",
            )
        same = EscalationPolicy.objects.filter(service=get("service"), severity=get("severity"))
        if self.instance is not None:
            same = same.exclude(pk=self.instance.pk)
        if same.exists():
            raise serializers.ValidationError(
                {"severity": [_("This service already has a policy for this severity.")]},
                code="unique",
            )
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        steps = validated_data.pop("steps", [])
        policy = super().create(validated_data)
        self._save_steps(policy, steps)
        return policy

    @transaction.atomic
    def update(self, instance, validated_data):
        steps = validated_data.pop("steps", None)
        policy = super().update(instance, validated_data)
        if steps is not None:
            # Running incidents use their snapshot, so steps can be replaced whole.
            policy.steps.all().delete()
            self._save_steps(policy, steps)
        return policy

    @staticmethod
    def _save_steps(policy, steps):
        for data in steps:
            contacts = data.pop("contacts", [])
            step = EscalationStep.objects.create(policy=policy, **data)
            step.contacts.set(contacts)


class MaintenanceWindowSerializer(ModelSerializer):
    class Meta:
        model = MaintenanceWindow
        fields = ["id", "service", "starts_at", "ends_at", "reason", "created_by"]
        read_only_fields = ["created_by"]

    def validate(self, attrs):
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts and ends and ends <= starts:
            raise serializers.ValidationError(
                {"ends_at": [_("The window must end after it starts.")]}, code="rule"
            )
        MaintenanceWindow(starts_at=starts, ends_at=ends).check_length(
            by=self.context["request"].user
        )
        return attrs


class RecurringMaintenanceWindowSerializer(ModelSerializer):
    next_starts_at = serializers.SerializerMethodField()
    active_now = serializers.SerializerMethodField()

    class Meta:
        model = RecurringMaintenanceWindow
        fields = [
            "id",
            "service",
            "cron",
            "duration",
            "reason",
            "active",
            "next_starts_at",
            "active_now",
            "ended_occurrence",
            "ended_at",
            "created_by",
        ]
        read_only_fields = ["ended_occurrence", "ended_at", "created_by"]

    def validate(self, attrs):
        window = RecurringMaintenanceWindow(
            **{**{f: getattr(self.instance, f) for f in ("cron", "duration")}, **attrs}
            if self.instance
            else attrs
        )
        try:
            window.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(get_error_detail(exc)) from None
        attrs["cron"] = window.cron
        return attrs

    def get_next_starts_at(self, window) -> datetime:
        return window.next_occurrence(timezone.now())

    def get_active_now(self, window) -> bool:
        return window.is_active(timezone.now())


class IncidentSerializer(ModelSerializer):
    service_name = CharField(source="service.name", read_only=True)
    url = PageURLField("incidents:detail")

    class Meta:
        model = Incident
        fields = [
            "id",
            "url",
            "service",
            "service_name",
            "title",
            "description",
            "severity",
            "category",
            "scope",
            "status",
            "source",
            "dedup_key",
            "commander",
            "responders",
            "impact_started_at",
            "detected_at",
            "created_at",
            "acknowledged_at",
            "acknowledged_by",
            "mitigated_at",
            "resolved_at",
            "resolved_by",
            "resolution_summary",
            "closed_at",
            "next_escalation_at",
        ]
        read_only_fields = fields


class IncidentListSerializer(IncidentSerializer):
    """A page of incidents: everything but the long texts and the responders, which the detail
    answer has (a list page stays one query for the rows)."""

    class Meta(IncidentSerializer.Meta):
        fields = [
            f
            for f in IncidentSerializer.Meta.fields
            if f not in ("description", "resolution_summary", "responders")
        ]
        read_only_fields = fields


class IncidentCreateSerializer(serializers.Serializer):
    """What `open_incident` needs; the answer is an IncidentSerializer."""

    service = PrimaryKeyRelatedField(queryset=Service.objects.all())
    title = CharField(max_length=200)
    severity = serializers.ChoiceField(choices=Severity.choices)
    description = CharField(required=False, allow_blank=True, default="", max_length=20000)
    category = CharField(required=False, allow_blank=True, default="", max_length=100)
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.PARTIAL)
    source = serializers.ChoiceField(choices=DECLARABLE_SOURCE_CHOICES, default=Source.API)
    dedup_key = CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=200,
        help_text=_(
            "While an incident with this key is open, a second call adds to it instead "
            "of opening another. Keys starting with probe:, alert: or backup: are the "
            "portal's own."
        ),
    )
    impact_started_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    detected_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ResolveSerializer(serializers.Serializer):
    summary = CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=4000,
        help_text=_("What fixed it: kept on the incident and in the timeline."),
    )


class ReopenSerializer(serializers.Serializer):
    reason = CharField(required=False, allow_blank=True, default="", max_length=2000)


class NoteSerializer(serializers.Serializer):
    text = CharField(max_length=20000)


class TimelineEventSerializer(ModelSerializer):
    actor = CharField(read_only=True)
    text = CharField(
        read_only=True,
        help_text=_(
            "What happened, as a sentence in the request's language; "
            "`message` holds only free text (a note, a reason, an error)."
        ),
    )

    class Meta:
        model = TimelineEvent
        fields = [
            "id",
            "incident",
            "at",
            "kind",
            "actor",
            "actor_user",
            "actor_contact",
            "message",
            "text",
            "data",
        ]
        read_only_fields = fields


class NotificationSerializer(ModelSerializer):
    """A row of the one outbox. `key` and `recipient` name a message that is not a page (its
    idempotency key); `subject` is what it says, as it was written when it was queued."""

    key = serializers.CharField(source="notice", read_only=True, allow_null=True)
    subject = serializers.CharField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "purpose",
            "incident",
            "key",
            "recipient",
            "subject",
            "escalation_round",
            "step",
            "repeat",
            "condition",
            "contact",
            "channel",
            "kind",
            "target",
            "status",
            "attempts",
            "last_error",
            "next_attempt_at",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        return {**super().to_representation(instance), "target": instance.shown_target}


class ActionItemSerializer(ModelSerializer):
    owner = PrimaryKeyRelatedField(
        queryset=Contact.objects.all(),
        error_messages={"null": _("Each action item needs an owner.")},
    )
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "postmortem",
            "description",
            "kind",
            "owner",
            "priority",
            "due_date",
            "tracker_url",
            "status",
            "done_at",
            "created_at",
            "is_overdue",
        ]
        read_only_fields = ["status", "done_at", "created_at"]

    def get_is_overdue(self, item) -> bool:
        return item.is_overdue(self.context.get("today") or timezone.localdate())

    def validate_description(self, value):
        if not value.strip():
            raise serializers.ValidationError(_("Say what should be done."), code="rule")
        return value

    def validate(self, attrs):
        due = attrs.get("due_date")
        today = self.context.get("today") or timezone.localdate()
        if self.instance is None and due and due < today:
            raise serializers.ValidationError(
                {"due_date": [_("A new action item cannot be due in the past.")]}, code="rule"
            )
        if (
            self.instance is not None
            and "postmortem" in attrs
            and attrs["postmortem"] != self.instance.postmortem
        ):
            raise serializers.ValidationError(
                {"postmortem": [_("An action item cannot move to another postmortem.")]},
                code="immutable",
            )
        # Whether the postmortem still takes changes, and from whom: postmortems.save_action_item.
        return attrs


class PostmortemSerializer(ModelSerializer):
    incident = PrimaryKeyRelatedField(queryset=Incident.objects.all())
    action_items = ActionItemSerializer(many=True, read_only=True)
    downtime = DurationField(read_only=True, allow_null=True)
    url = PageURLField("incidents:postmortem", key="incident_id")
    timeline_events = PrimaryKeyRelatedField(
        many=True, required=False, queryset=TimelineEvent.objects.all()
    )
    links = CharField(
        required=False, allow_blank=True, max_length=5000, help_text=_("One http(s) URL per line.")
    )

    class Meta:
        model = Postmortem
        fields = [
            "id",
            "url",
            "incident",
            "title",
            "status",
            "severity",
            "scope",
            "summary",
            "impact",
            "occurred_at",
            "detected_at",
            "recovered_at",
            "downtime",
            "trigger",
            "root_cause",
            "detection",
            "response",
            "went_well",
            "went_wrong",
            "got_lucky",
            "lessons",
            "links",
            "timeline_events",
            "author",
            "reviewers",
            "created_at",
            "updated_at",
            "submitted_at",
            "published_at",
            "published_by",
            "closed_at",
            "action_items",
        ]
        read_only_fields = [
            "status",
            "author",
            "created_at",
            "updated_at",
            "submitted_at",
            "published_at",
            "published_by",
            "closed_at",
        ]
        validators = []  # one per incident: checked in validate() with a field error

    def validate_links(self, value):
        validator = URLValidator(schemes=["http", "https"])
        links = [line.strip() for line in value.splitlines() if line.strip()]
        for link in links:
            try:
                validator(link)
            except DjangoValidationError:
                raise serializers.ValidationError(
                    _("%(link)s is not an http(s) URL.") % {"link": link[:200]}, code="url"
                ) from None
        return "\n".join(links)

    def validate(self, attrs):
        def get(name):
            return attrs.get(name, getattr(self.instance, name, None))

        incident = get("incident")
        if (
            self.instance is not None
            and "incident" in attrs
            and attrs["incident"] != self.instance.incident
        ):
            raise serializers.ValidationError(
                {"incident": [_("A postmortem cannot move to another incident.")]}, code="immutable"
            )
        if self.instance is None and Postmortem.objects.filter(incident=incident).exists():
            raise serializers.ValidationError(
                {"incident": [_("This incident already has a postmortem.")]}, code="unique"
            )
        occurred, errors = get("occurred_at"), {}
        if occurred and get("detected_at") and get("detected_at") < occurred:
            errors["detected_at"] = [_("Detection cannot come before the incident occurred.")]
        if occurred and get("recovered_at") and get("recovered_at") < occurred:
            errors["recovered_at"] = [_("Recovery cannot come before the incident occurred.")]
        if errors:
            raise serializers.ValidationError(errors, code="rule")
        for event in attrs.get("timeline_events", []):
            if event.incident_id != incident.pk:
                raise serializers.ValidationError(
                    {
                        "timeline_events": [
                            _("Event %(id)s is not this incident's.") % {"id": event.pk}
                        ]
                    }
                )
        return attrs


class PostmortemListSerializer(ModelSerializer):
    """A postmortem in a list: what it is about and where it stands. The detail adds the write-up,
    its action items, timeline events and reviewers (too costly to nest per row of a list)."""

    downtime = DurationField(read_only=True, allow_null=True)
    url = PageURLField("incidents:postmortem", key="incident_id")

    class Meta:
        model = Postmortem
        fields = [
            "id",
            "url",
            "incident",
            "title",
            "status",
            "severity",
            "scope",
            "occurred_at",
            "detected_at",
            "recovered_at",
            "downtime",
            "author",
            "created_at",
            "updated_at",
            "submitted_at",
            "published_at",
            "published_by",
            "closed_at",
        ]
        read_only_fields = fields


@extend_schema_field(
    {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "example": "2026-03"}
)
class MonthField(serializers.DateField):
    """A month written YYYY-MM (the schema must not say "date": a YYYY-MM-DD is refused)."""

    def __init__(self, **kwargs):
        super().__init__(input_formats=["%Y-%m"], **kwargs)

    def to_internal_value(self, value):
        # strptime also takes "2026-1" and " 2026-01"; the schema's pattern does not.
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            self.fail("invalid", format="YYYY-MM")
        return super().to_internal_value(value)


class ReportQuerySerializer(serializers.Serializer):
    first = MonthField(required=False, help_text=_("First month, YYYY-MM."))
    last = MonthField(required=False, help_text=_("Last month, YYYY-MM."))
    # An id, as the list filters take it: one that no service has gives an empty report.
    service = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)
    from_impact = BooleanField(
        required=False,
        default=False,
        help_text=_("Measure MTTR from the impact start instead of creation."),
    )

    def to_internal_value(self, data):
        # DRF reads an empty query parameter as absent (and `from_impact=` as false); the schema
        # promises a month, an id and a boolean.
        blank = {
            name: [_("Give a value, or leave the parameter out.")]
            for name in self.fields
            if data.get(name) == ""
        }
        if blank:
            raise serializers.ValidationError(blank, code="blank")
        return super().to_internal_value(data)

    def validate(self, attrs):
        first, last = attrs.get("first"), attrs.get("last")
        if first and last:
            if last < first:
                raise serializers.ValidationError(
                    {"last": [_("The last month is before the first.")]}, code="rule"
                )
            if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
                raise serializers.ValidationError(
                    {
                        "last": [
                            _("A report covers at most %(months)d months.") % {"months": MAX_MONTHS}
                        ]
                    },
                    code="rule",
                )
        return attrs


class StatsSerializer(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True, help_text=_("Seconds."))
    median = serializers.FloatField(allow_null=True, help_text=_("Seconds."))
    p95 = serializers.FloatField(allow_null=True, help_text=_("Seconds."))


class ReportRowSerializer(serializers.Serializer):
    key = CharField()
    label = CharField()
    incidents = serializers.IntegerField()
    resolved = serializers.IntegerField()
    open = serializers.IntegerField()
    mtta = StatsSerializer()
    mttr = StatsSerializer()
    downtime_seconds = serializers.FloatField()
    rto_met = serializers.IntegerField()
    rto_missed = serializers.IntegerField()
    postmortems_required = serializers.IntegerField()
    postmortems_published = serializers.IntegerField()
    postmortem_rate = serializers.FloatField(allow_null=True)
    action_items_open = serializers.IntegerField()
    action_items_overdue = serializers.IntegerField()


class ReportPeriodSerializer(serializers.Serializer):
    first = CharField()
    last = CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class ReportSerializer(serializers.Serializer):
    period = ReportPeriodSerializer()
    service = serializers.IntegerField(allow_null=True)
    from_impact = serializers.BooleanField()
    time_zone = CharField()
    total = ReportRowSerializer()
    by_severity = ReportRowSerializer(many=True)
    by_month = ReportRowSerializer(many=True)


class RouteSerializer(ModelSerializer):
    """A team channel's subscription to events. `target` is written in full and read back masked."""

    events = serializers.ListField(
        child=serializers.ChoiceField(choices=RouteEvent.choices),
        min_length=1,
        max_length=len(RouteEvent.choices),
    )
    services = PrimaryKeyRelatedField(queryset=Service.objects.all(), many=True, required=False)

    class Meta:
        model = Route
        fields = [
            "id",
            "name",
            "kind",
            "target",
            "language",
            "events",
            "services",
            "min_severity",
            "hours_start",
            "hours_end",
            "enabled",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def validate(self, attrs):
        keep_masked_target(attrs, self.instance)
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        target = attrs.get("target", getattr(self.instance, "target", ""))
        validate_channel_target(kind, target)
        attrs["events"] = list(
            dict.fromkeys(attrs.get("events", getattr(self.instance, "events", [])))
        )
        start = attrs.get("hours_start", getattr(self.instance, "hours_start", None))
        end = attrs.get("hours_end", getattr(self.instance, "hours_end", None))
        if (start is None) != (end is None):
            raise serializers.ValidationError(
                {"hours_end": _("Give both ends of the hours, or neither.")}, code="hours"
            )
        if start is not None and start == end:
            raise serializers.ValidationError(
                {"hours_end": _("The hours must not start and end at the same time.")}, code="hours"
            )
        return attrs

    def to_representation(self, instance):
        return {**super().to_representation(instance), "target": instance.shown_target}
