"""REST API of the checklists app. Ticking and completing are actions that call
checklists.services."""

from django.db.models import Prefetch, ProtectedError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from checklists import importer, services
from checklists.models import HandoverNote, Item, Playbook, Run, RunItem, Section, Template
from checklists.serializers import (
    CompleteSerializer,
    HandoverNoteSerializer,
    PlaybookSerializer,
    RunbookImportSerializer,
    RunListSerializer,
    RunSerializer,
    RunStartSerializer,
    TemplateSerializer,
    TickSerializer,
    UntickSerializer,
)
from core.errors import DomainError
from core.pagination import AppendOnlyPagination
from core.parsers import JSONParser


class TemplateViewSet(viewsets.ModelViewSet):
    """Checklist templates with their sections and items. Writing sections replaces them (a new
    version)."""

    serializer_class = TemplateSerializer
    # JSON only: a form cannot carry the nested sections and items, which were silently dropped.
    parser_classes = [JSONParser]
    filterset_fields = ["kind", "service", "active"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        items = Item.objects.order_by("position", "id")
        sections = Section.objects.order_by("position", "id").prefetch_related(
            Prefetch("items", queryset=items)
        )
        return Template.objects.order_by("name").prefetch_related(
            Prefetch("sections", queryset=sections)
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        sections = data.pop("sections", [])
        serializer.instance = services.save_template(template=None, fields=data, sections=sections)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        sections = data.pop("sections", None)
        serializer.instance = services.save_template(
            template=serializer.instance, fields=data, sections=sections
        )

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise DomainError(
                _("This template has runs; make it inactive instead of deleting it."),
                code="protected",
                conflict=True,
            ) from None


class RunViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Checklist runs, newest first (cursor pages; a list shows progress, a run its items).
    `tick`, `untick` and `complete` change them."""

    serializer_class = RunSerializer
    pagination_class = AppendOnlyPagination
    filterset_fields = ["template", "status", "incident"]
    ordering_fields = None
    action_permissions = {
        "tick": "checklists.change_run",
        "untick": "checklists.change_run",
        "complete": "checklists.change_run",
    }

    def get_queryset(self):
        runs = Run.objects.with_progress().order_by("-id")
        if self.action == "list":
            return runs
        items = RunItem.objects.select_related("by").order_by("position", "id")
        return runs.prefetch_related(Prefetch("items", queryset=items))

    def get_serializer_class(self):
        return {
            "list": RunListSerializer,
            "create": RunStartSerializer,
            "tick": TickSerializer,
            "untick": UntickSerializer,
            "complete": CompleteSerializer,
        }.get(self.action, RunSerializer)

    @extend_schema(request=RunStartSerializer, responses={201: RunSerializer})
    def create(self, request, *args, **kwargs):
        serializer = RunStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = services.start_run(by=request.user, **serializer.validated_data)
        return Response(
            RunSerializer(self.get_queryset().get(pk=run.pk)).data, status=status.HTTP_201_CREATED
        )

    def _item(self, run, item_id) -> RunItem:
        return get_object_or_404(RunItem.objects.select_related("probe"), pk=item_id, run=run)

    def _answer(self, run):
        return Response(RunSerializer(self.get_queryset().get(pk=run.pk)).data)

    @extend_schema(
        request=TickSerializer,
        responses={
            200: RunSerializer,
            400: OpenApiResponse(description=_("Bad state, or skipped without a reason.")),
            409: OpenApiResponse(description=_("The run is closed.")),
        },
    )
    @action(detail=True, methods=["post"])
    def tick(self, request, pk=None):
        run = self.get_object()
        serializer = TickSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run_item = self._item(run, data["item"])
        if data["from_probe"]:
            services.tick_from_probe(run_item=run_item, by=request.user)
        else:
            services.tick(
                run_item=run_item,
                by=request.user,
                state=data["state"],
                note=data.get("note", ""),
                value=data.get("value", ""),
            )
        return self._answer(run)

    @extend_schema(request=UntickSerializer, responses={200: RunSerializer})
    @action(detail=True, methods=["post"])
    def untick(self, request, pk=None):
        run = self.get_object()
        serializer = UntickSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.untick(
            run_item=self._item(run, serializer.validated_data["item"]), by=request.user
        )
        return self._answer(run)

    @extend_schema(
        request=CompleteSerializer,
        responses={
            200: RunSerializer,
            409: OpenApiResponse(
                description=_("A required item is still open, or the run is closed.")
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        run = self.get_object()
        serializer = CompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.complete_run(run=run, by=request.user, handover=serializer.validated_data)
        return self._answer(run)


class HandoverNoteViewSet(viewsets.ReadOnlyModelViewSet):
    """Handover notes written when shift runs were completed; `acknowledge` marks one read by the
    next shift."""

    serializer_class = HandoverNoteSerializer
    filterset_fields = ["run"]
    action_permissions = {"acknowledge": "checklists.change_handovernote"}

    def get_queryset(self):
        return HandoverNote.objects.select_related("author", "acknowledged_by").order_by(
            "-created_at", "-id"
        )

    @extend_schema(request=None, responses={200: HandoverNoteSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        note = services.acknowledge_handover(note=self.get_object(), by=request.user)
        return Response(HandoverNoteSerializer(self.get_queryset().get(pk=note.pk)).data)


class PlaybookViewSet(viewsets.ModelViewSet):
    """Failure playbooks (markdown), per service and incident category; `html` is rendered and
    sanitised."""

    serializer_class = PlaybookSerializer
    filterset_fields = ["service", "category"]
    search_fields = ["title", "category", "body"]

    def get_queryset(self):
        return Playbook.objects.order_by("title")


class RunbookImportViewSet(viewsets.ViewSet):
    """Import a markdown runbook (multipart). With dry_run (the default) nothing is written: the
    answer is the plan."""

    parser_classes = [MultiPartParser]  # a file: multipart only
    action_permissions = {"create": "checklists.add_template"}
    serializer_class = RunbookImportSerializer

    @extend_schema(
        request=RunbookImportSerializer,
        responses={
            200: OpenApiResponse(description=_("The plan (dry run) or what was created/updated.")),
            400: OpenApiResponse(
                description=_("The file cannot be imported; nothing was written.")
            ),
        },
    )
    def create(self, request):
        serializer = RunbookImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        try:
            plan = importer.read_runbook(
                upload.read(importer.max_bytes() + 1), filename=upload.name
            )
            if data.get("choices"):
                plan.override(data["choices"])
            if data["dry_run"]:
                return Response({"dry_run": True, "plan": plan.as_dict()})
            result = importer.import_plan(plan=plan, service=data.get("service"))
        except importer.RunbookError as exc:
            # The one error shape, with every problem under `file` (each with its line number).
            return Response(
                {
                    "file": exc.problems,
                    "detail": exc.message,
                    "code": exc.code,
                    "codes": [exc.code],
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"dry_run": False, "plan": plan.as_dict(), **result.as_dict()})
