"""REST API of the backups app: targets (+ run, rehearse), runs (+ verify, restore), restores,
rehearsals."""

from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from backups import services
from backups.models import BackupRun, BackupTarget, Rehearsal, Repository, RestoreRun, Trigger
from backups.scorecard import scorecards
from backups.serializers import (
    BackupRunSerializer,
    BackupTargetSerializer,
    RehearsalSerializer,
    RepositorySerializer,
    RestoreRequestSerializer,
    RestoreRunSerializer,
    ScorecardSerializer,
)
from core.errors import DomainError
from core.filters import FilterBackend
from core.pagination import AppendOnlyPagination


class BackupTargetViewSet(viewsets.ModelViewSet):
    """What is backed up, where to, when, and how long backups are kept."""

    serializer_class = BackupTargetSerializer
    filterset_fields = ["service", "kind", "enabled"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]
    action_permissions = {"run": "backups.add_backuprun", "rehearse": "backups.add_backuprun"}

    def get_queryset(self):
        return BackupTarget.objects.select_related("service").order_by("name")

    def perform_create(self, serializer):
        serializer.save(
            next_run_at=BackupTarget(
                schedule=serializer.validated_data.get("schedule", BackupTarget().schedule)
            ).next_run_after(timezone.now())
        )

    def perform_update(self, serializer):
        target = serializer.save()
        target.next_run_at = target.next_run_after(timezone.now())
        # An update, not a save: the edit has its history row already, one is enough.
        BackupTarget.objects.filter(pk=target.pk).update(next_run_at=target.next_run_at)

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise DomainError(
                _("%(name)s has backup runs; disable it instead of deleting it.")
                % {"name": instance},
                code="protected",
                conflict=True,
            ) from None

    @extend_schema(request=None, responses={202: BackupRunSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        """Queue a backup of this target now (on the long-job cluster)."""
        run = services.queue_backup(target=self.get_object(), trigger=Trigger.API, by=request.user)
        return Response(BackupRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: RehearsalSerializer})
    @action(detail=True, methods=["post"])
    def rehearse(self, request, pk=None):
        """Restore the newest verified backup into a scratch folder and check it, now."""
        return Response(RehearsalSerializer(services.rehearse(target=self.get_object())).data)


class BackupRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Backup runs, newest first (cursor pages: the table only grows)."""

    serializer_class = BackupRunSerializer
    pagination_class = AppendOnlyPagination
    filterset_fields = ["target", "status", "trigger", "verification"]
    filter_backends = [FilterBackend]
    action_permissions = {
        "verify": "backups.add_backuprun",
        "restore": "backups.restore_backuprun",
        "copy": "backups.add_backuprun",
    }

    def get_queryset(self):
        return BackupRun.objects.select_related("target")

    @extend_schema(request=None, responses={202: BackupRunSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """Re-read the checksum and check the file with its format's tool (on the long-job
        cluster)."""
        run = self.get_object()
        if not run.is_restorable():
            raise DomainError(
                _("Backup #%(id)s has no file to verify.") % {"id": run.pk}, conflict=True
            )
        services.queue_verify(run=run)
        return Response(BackupRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: BackupRunSerializer})
    @action(detail=True, methods=["post"])
    def copy(self, request, pk=None):
        """Send this verified backup to its target's restic repository again (on the long-job
        cluster)."""
        run = self.get_object()
        services.queue_copy(run=run)
        return Response(BackupRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=RestoreRequestSerializer, responses={202: RestoreRunSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        """Restore this backup over its target's data (manager only). A `pre_restore` safety copy
        is taken first; `confirm` must be the target's name."""
        body = RestoreRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        restore = services.request_restore(
            run=self.get_object(),
            by=request.user,
            confirm=body.validated_data["confirm"],
            target=body.validated_data.get("target"),
            from_repository=body.validated_data["from_repository"],
        )
        return Response(RestoreRunSerializer(restore).data, status=status.HTTP_202_ACCEPTED)


class RestoreRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Every restore: from which backup, into where, the safety copy, who and when."""

    serializer_class = RestoreRunSerializer
    pagination_class = AppendOnlyPagination
    filter_backends = [FilterBackend]
    filterset_fields = ["target", "status"]

    def get_queryset(self):
        return RestoreRun.objects.all()


class RehearsalViewSet(viewsets.ReadOnlyModelViewSet):
    """Monthly restore rehearsals and their findings."""

    serializer_class = RehearsalSerializer
    pagination_class = AppendOnlyPagination
    filter_backends = [FilterBackend]
    filterset_fields = ["target", "passed"]

    def get_queryset(self):
        return Rehearsal.objects.all()


class RepositoryViewSet(viewsets.ModelViewSet):
    """restic repositories that receive the verified backups of the targets naming them. The
    password is write-only."""

    serializer_class = RepositorySerializer
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]
    action_permissions = {
        "init": "backups.change_repository",
        "refresh": "backups.change_repository",
        "check": "backups.change_repository",
    }

    def get_queryset(self):
        return Repository.objects.order_by("name")

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise DomainError(
                _("%(name)s holds copies of backups; unset it on its targets first.")
                % {"name": instance},
                code="protected",
                conflict=True,
            ) from None

    @extend_schema(request=None, responses={200: RepositorySerializer})
    @action(detail=True, methods=["post"])
    def init(self, request, pk=None):
        """`restic init`: create the repository at its location with its password."""
        return Response(
            RepositorySerializer(services.init_repository(repository=self.get_object())).data
        )

    @extend_schema(request=None, responses={200: RepositorySerializer})
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        """Read snapshot count and size now; an unreachable host or wrong password lands in
        `error`."""
        return Response(
            RepositorySerializer(services.refresh_repository(repository=self.get_object())).data
        )

    @extend_schema(request=None, responses={202: RepositorySerializer})
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        """Queue `restic check --read-data-subset` (on the long-job cluster); the result lands in
        last_check_*."""
        repository = self.get_object()
        services.queue_check(repository=repository)
        return Response(RepositorySerializer(repository).data, status=status.HTTP_202_ACCEPTED)


class ScorecardViewSet(viewsets.ViewSet):
    """Recoverability per service: RTO/RPO targets against backup ages, the last rehearsal and
    the last restic check, graded green / amber / red with the reasons."""

    @extend_schema(responses={200: ScorecardSerializer(many=True)})
    def list(self, request):
        return Response(ScorecardSerializer(scorecards(now=timezone.now()), many=True).data)
