"""REST shapes of the backups app. Serializers check shape; services decide."""

import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backups.models import (
    BackupRun,
    BackupTarget,
    Format,
    Kind,
    Rehearsal,
    Repository,
    RestoreRun,
    RestoreStatus,
    RunStatus,
)
from core.secrets import keep_stored, mask_dsn
from core.serializers import CharField, ModelSerializer, PrimaryKeyRelatedField


def status_field(choices):
    # Not an enum component: "status" is a field name many apps use, and the enum postprocessing
    # would give ours a hashed name until settings.ENUM_NAME_OVERRIDES names it.
    @extend_schema_field({"type": "string", "description": " | ".join(choices.values)})
    class StatusField(serializers.CharField):
        pass

    return StatusField(read_only=True)


class BackupTargetSerializer(ModelSerializer):
    class Meta:
        model = BackupTarget
        fields = [
            "id",
            "name",
            "service",
            "kind",
            "source",
            "destination",
            "excludes",
            "schedule",
            "keep_last",
            "keep_daily",
            "keep_weekly",
            "keep_monthly",
            "compress",
            "verify",
            "repository",
            "enabled",
            "next_run_at",
            "created_at",
        ]
        read_only_fields = ["next_run_at", "created_at"]

    def validate(self, attrs):
        # A connection string is read back without its password; sent back so, it keeps the stored
        # one.
        if (
            self.instance is not None
            and "source" in attrs
            and attrs.get("kind", self.instance.kind) == Kind.POSTGRES
        ):
            attrs["source"] = keep_stored(attrs["source"], self.instance.source, mask_dsn)
        # The model's clean() holds the rules shared with the page's form (paths, cron, retention).
        candidate = copy.copy(self.instance) if self.instance else BackupTarget()
        for name, value in attrs.items():
            setattr(candidate, name, value)
        try:
            candidate.clean()
        except DjangoValidationError as exc:
            # Rules of the target's kind (its source, paths, cron and retention).
            raise serializers.ValidationError(exc.message_dict, code="config") from None
        return attrs

    def to_representation(self, instance):
        return {**super().to_representation(instance), "source": instance.shown_source}


class BackupRunSerializer(ModelSerializer):
    target_name = CharField(source="target.name", read_only=True)
    status = status_field(RunStatus)
    # Empty until the run has started and knows what it writes.
    format = serializers.ChoiceField(choices=Format.choices, allow_blank=True, read_only=True)

    class Meta:
        model = BackupRun
        fields = [
            "id",
            "target",
            "target_name",
            "trigger",
            "status",
            "format",
            "requested_by",
            "queued_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "bytes_done",
            "file",
            "size",
            "sha256",
            "verification",
            "verified_at",
            "verification_detail",
            "error",
            "pruned_at",
            "offsite_status",
            "repository",
            "snapshot_id",
            "offsite_bytes_added",
            "offsite_duration",
            "offsite_finished_at",
            "offsite_error",
            "snapshot_forgotten_at",
        ]
        read_only_fields = fields


class RestoreRequestSerializer(serializers.Serializer):
    confirm = CharField(help_text=_("The target's name, typed out: restoring replaces its data."))
    from_repository = serializers.BooleanField(
        default=False,
        help_text=_(
            "Read the backup from its snapshot in the off-site repository instead of the local "
            "file."
        ),
    )
    target = PrimaryKeyRelatedField(
        queryset=BackupTarget.objects.all(),
        required=False,
        help_text=_(
            "Restore into another target of the same kind (default: the backup's own target)."
        ),
    )


class RestoreRunSerializer(ModelSerializer):
    status = status_field(RestoreStatus)

    class Meta:
        model = RestoreRun
        fields = [
            "id",
            "backup",
            "target",
            "destination",
            "safety_run",
            "requested_by",
            "requested_at",
            "finished_at",
            "status",
            "from_repository",
            "integrity",
            "error",
        ]
        read_only_fields = fields


class RehearsalSerializer(ModelSerializer):
    class Meta:
        model = Rehearsal
        fields = [
            "id",
            "target",
            "backup",
            "started_at",
            "finished_at",
            "passed",
            "detail",
            "error",
            "snapshot_id",
            "duration",
            "rto",
        ]
        read_only_fields = fields


class RepositorySerializer(ModelSerializer):
    """The password is write-only: given to create and in a whole update (PUT); a PATCH without
    it keeps the stored one."""

    password = CharField(
        write_only=True,
        required=True,
        max_length=1000,
        style={"input_type": "password"},
        trim_whitespace=False,
    )

    class Meta:
        model = Repository
        fields = [
            "id",
            "name",
            "url",
            "password",
            "upload_limit_kib",
            "initialised_at",
            "status_at",
            "snapshot_count",
            "size",
            "error",
            "last_check_at",
            "last_check_passed",
            "last_check_detail",
            "created_at",
        ]
        read_only_fields = [
            "initialised_at",
            "status_at",
            "snapshot_count",
            "size",
            "error",
            "last_check_at",
            "last_check_passed",
            "last_check_detail",
            "created_at",
        ]

    def validate(self, attrs):
        candidate = copy.copy(self.instance) if self.instance else Repository()
        for name, value in attrs.items():
            setattr(candidate, name, value)
        try:
            candidate.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict, code="config") from None
        return attrs

    def to_representation(self, instance):
        return {**super().to_representation(instance), "url": instance.shown_url}


class ScorecardSerializer(serializers.Serializer):
    service = serializers.IntegerField(source="service.pk")
    service_name = serializers.CharField(source="service.name")
    status = serializers.ChoiceField(choices=["green", "amber", "red"])
    reasons = serializers.ListField(child=serializers.CharField())
    rto = serializers.DurationField(source="service.rto", allow_null=True)
    tolerable_rto = serializers.DurationField(source="service.tolerable_rto", allow_null=True)
    rpo = serializers.DurationField(source="service.rpo", allow_null=True)
    tolerable_rpo = serializers.DurationField(source="service.tolerable_rpo", allow_null=True)
    local_backup_age = serializers.DurationField(source="local_age", allow_null=True)
    offsite_backup_age = serializers.DurationField(source="offsite_age", allow_null=True)
    last_rehearsal_at = serializers.DateTimeField(
        source="last_rehearsal.started_at", allow_null=True, default=None
    )
    last_rehearsal_passed = serializers.BooleanField(
        source="last_rehearsal.passed", allow_null=True, default=None
    )
    restore_duration = serializers.DurationField(
        source="last_rehearsal.duration", allow_null=True, default=None
    )
    last_check_at = serializers.DateTimeField(allow_null=True)
    last_check_passed = serializers.BooleanField(allow_null=True)
