"""Backup pages. Login is required everywhere by middleware; writes check the role."""

import math

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from backups import services
from backups.dashboard import targets_with_freshness
from backups.forms import RepositoryForm, RestoreForm
from backups.models import (
    ACTIVE_STATUSES,
    BackupRun,
    BackupTarget,
    Kind,
    Repository,
    RunStatus,
    Trigger,
)
from backups.scorecard import scorecards
from core import charts
from core.display import format_duration
from core.errors import DomainError

PAGE_SIZE = 50
RECENT_RUNS = 30


def get_run(pk) -> BackupRun:
    return get_object_or_404(
        BackupRun.objects.select_related("target__service", "requested_by", "repository"), pk=pk
    )


@require_safe
@permission_required("backups.view_backuptarget", raise_exception=True)
def target_list(request):
    now = timezone.now()
    return render(
        request,
        "backups/targets.html",
        {
            # The list shows no source nor repository password: left encrypted, unread.
            "targets": targets_with_freshness(
                now, BackupTarget.objects.defer("source", "repository__password")
            ),
            "now": now,
            "can_run": request.user.has_perm("backups.add_backuprun"),
        },
    )


@require_safe
@permission_required("backups.view_backuptarget", raise_exception=True)
def target_detail(request, pk):
    now = timezone.now()
    found = targets_with_freshness(now, BackupTarget.objects.filter(pk=pk))
    if not found:
        raise Http404
    target = found[0]
    runs = list(target.runs.select_related("requested_by").order_by("-id")[:RECENT_RUNS])
    restores = list(target.restores.select_related("requested_by", "backup").order_by("-id")[:12])
    rehearsals = list(target.rehearsals.order_by("-id")[:12])
    # The page refreshes itself while anything it shows is still queued or running.
    polling = any(r.is_active() for r in runs) or any(r.status in ACTIVE_STATUSES for r in restores)
    context = {
        "target": target,
        "runs": runs,
        "now": now,
        "rehearsals": rehearsals,
        "restores": restores,
        "trends": run_trends(runs),
        "can_run": request.user.has_perm("backups.add_backuprun"),
        "polling": polling,
    }
    return render(request, "backups/target.html", context)


def run_trends(runs: list[BackupRun]) -> list[dict]:
    """Size and duration of the target's recent successful runs (the ones the page already
    fetched, at most RECENT_RUNS), oldest first: a growing backup or a slowing one shows here."""
    done = [
        run
        for run in reversed(runs)
        if run.status == RunStatus.SUCCEEDED and run.started_at and run.finished_at
    ]
    labels = [f"#{run.pk}" for run in done]
    step = max(math.ceil(len(done) / 10), 1)
    return [
        charts.bar_chart(
            title=_("Backup size, recent runs"),
            labels=labels,
            label_every=step,
            series=[(_("Size"), [run.size for run in done])],
            fmt=filesizeformat,
            scale=charts.nice_bytes_top,
            empty=_("No successful backup yet."),
        ),
        charts.bar_chart(
            title=_("Backup duration, recent runs"),
            labels=labels,
            label_every=step,
            series=[
                (
                    _("Duration"),
                    [(run.finished_at - run.started_at).total_seconds() for run in done],
                )
            ],
            fmt=format_duration,
            scale=charts.nice_duration_top,
            empty=_("No successful backup yet."),
        ),
    ]


@require_safe
@permission_required("backups.view_backuprun", raise_exception=True)
def run_list(request):
    runs = BackupRun.objects.select_related("target").order_by("-id")
    page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "backups/runs.html",
        {"page": page, "polling": any(r.is_active() for r in page.object_list)},
    )


@require_safe
@permission_required("backups.view_backuprun", raise_exception=True)
def run_detail(request, pk):
    run = get_run(pk)
    return render(
        request,
        "backups/run.html",
        {
            "run": run,
            "polling": run.is_active(),
            "can_restore": request.user.has_perm("backups.restore_backuprun")
            and (run.is_restorable() or run.is_restorable_offsite()),
        },
    )


@require_POST
@permission_required("backups.add_backuprun", raise_exception=True)
def run_now(request, pk):
    target = get_object_or_404(BackupTarget, pk=pk)
    try:
        run = services.queue_backup(target=target, trigger=Trigger.MANUAL, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(target)
    messages.success(request, _("Backup queued; this page shows its progress."))
    return redirect(run)


@require_POST
@permission_required("backups.add_backuprun", raise_exception=True)
def verify_now(request, pk):
    run = get_run(pk)
    try:
        services.queue_verify(run=run)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(run)
    messages.success(
        request, _("Verification queued: the checksum is re-read and the file checked again.")
    )
    return redirect(run)


@permission_required("backups.restore_backuprun", raise_exception=True)
def restore(request, pk):
    run = get_run(pk)
    form = RestoreForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            restore_run = services.request_restore(
                run=run,
                by=request.user,
                confirm=form.cleaned_data["confirm"],
                from_repository=form.cleaned_data["from_repository"],
            )
        except DomainError as exc:
            form.add_error("confirm" if exc.field == "confirm" else None, exc.message)
        else:
            messages.success(
                request,
                _("Restore #%(id)s queued. A safety copy of the current data is taken first.")
                % {"id": restore_run.pk},
            )
            return redirect(run.target)
    context = {
        "run": run,
        "form": form,
        "portal_db": run.target.kind == Kind.PORTAL_DB,
        "offsite": run.is_restorable_offsite(),
        "portal_engine": connection.vendor,
    }
    return render(request, "backups/restore.html", context, status=400 if form.errors else 200)


@require_safe
@permission_required("backups.view_repository", raise_exception=True)
def repository_list(request):
    return render(
        request,
        "backups/repositories.html",
        {
            "repositories": Repository.objects.order_by("name"),
            "can_edit": request.user.has_perm("backups.add_repository"),
        },
    )


@permission_required("backups.add_repository", raise_exception=True)
def repository_new(request):
    return _repository_form(request, Repository())


@permission_required("backups.change_repository", raise_exception=True)
def repository_edit(request, pk):
    return _repository_form(request, get_object_or_404(Repository, pk=pk))


def _repository_form(request, repository: Repository):
    form = RepositoryForm(request.POST or None, instance=repository)
    if request.method == "POST" and form.is_valid():
        repository = form.save()
        messages.success(request, _("Saved. Initialise the repository if it does not exist yet."))
        return redirect(repository)
    return render(
        request,
        "backups/repository_form.html",
        {"form": form, "repository": repository},
        status=400 if form.errors else 200,
    )


@require_safe
@permission_required("backups.view_repository", raise_exception=True)
def repository_detail(request, pk):
    repository = get_object_or_404(Repository, pk=pk)
    runs = (
        BackupRun.objects.filter(repository=repository)
        .select_related("target")
        .order_by("-id")[:RECENT_RUNS]
    )
    return render(
        request,
        "backups/repository.html",
        {
            "repository": repository,
            "runs": runs,
            "targets": repository.targets.order_by("name"),
            "can_edit": request.user.has_perm("backups.change_repository"),
        },
    )


@require_POST
@permission_required("backups.change_repository", raise_exception=True)
def repository_action(request, pk, verb):
    repository = get_object_or_404(Repository, pk=pk)
    try:
        if verb == "init":
            services.init_repository(repository=repository)
            messages.success(request, _("The repository was initialised."))
        elif verb == "refresh":
            repository = services.refresh_repository(repository=repository)
            if repository.error:
                messages.error(request, repository.error)
        else:
            services.queue_check(repository=repository)
            messages.success(
                request, _("restic check queued; its result shows here when it is done.")
            )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(repository)


@require_safe
@permission_required("backups.view_backuptarget", raise_exception=True)
def scorecard(request):
    return render(request, "backups/scorecard.html", {"cards": scorecards(now=timezone.now())})
