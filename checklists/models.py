"""Checklist templates, their scheduled runs, ticks, handover notes and playbooks (DESIGN §4)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from checklists import schedules


class Kind(models.TextChoices):
    ROUTINE = "routine", _("routine")
    INCIDENT = "incident", _("incident")
    DEPLOYMENT = "deployment", _("deployment")
    RECOVERY = "recovery", _("recovery")


# Started by hand from an incident page, never by the scheduler.
INCIDENT_KINDS = (Kind.INCIDENT, Kind.RECOVERY)


class OnHoliday(models.TextChoices):
    """What a scheduled occurrence does on a public holiday or company day (core.holidays)."""

    RUN = "run", _("run anyway")
    SKIP = "skip", _("skip")
    NEXT_WORKING_DAY = "next_working_day", _("move to the next working day")


class TemplateQuerySet(models.QuerySet):
    def scheduled(self):
        return self.filter(active=True).exclude(schedule="")

    def for_incident(self, incident):
        """Incident/recovery templates that fit the incident's service and category."""
        return self.filter(
            Q(service=incident.service) | Q(service__isnull=True),
            Q(incident_category="") | Q(incident_category__iexact=incident.category or ""),
            active=True,
            kind__in=INCIDENT_KINDS,
        ).order_by("name")


class Template(models.Model):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.ROUTINE)
    description = models.TextField(_("description"), blank=True)
    service = models.ForeignKey(
        "incidents.Service",
        verbose_name=_("service"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="checklist_templates",
    )
    incident_category = models.CharField(
        _("incident category"),
        max_length=100,
        blank=True,
        help_text=_(
            "For incident and recovery checklists: offered on incidents of this category (empty: "
            "any)."
        ),
    )
    schedule = models.CharField(
        _("schedule (cron)"),
        max_length=100,
        blank=True,
        help_text=_(
            "Five cron fields in the portal's time zone, e.g. 0 9 * * * for 09:00 daily. Empty: "
            "started by hand."
        ),
    )
    on_holiday = models.CharField(
        _("on holidays"),
        max_length=20,
        choices=OnHoliday.choices,
        default=OnHoliday.RUN,
        help_text=_("Public holidays and company days off."),
    )
    due_window = models.DurationField(
        _("due within"),
        default=timedelta(hours=2),
        help_text=_("How long after it opens a run becomes overdue."),
    )
    assignee_tier = models.ForeignKey(
        "incidents.Tier",
        verbose_name=_("assigned tier"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assignee_contact = models.ForeignKey(
        "incidents.Contact",
        verbose_name=_("assigned contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assignee_group = models.ForeignKey(
        "auth.Group",
        verbose_name=_("assigned group"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    # Where an imported template came from ("file.md :: heading path"), so that
    # importing the same runbook again updates it instead of adding a copy.
    source_key = models.CharField(_("import source"), max_length=255, blank=True, default="")
    # The newest occurrence the materialiser has dealt with (run or missed):
    # occurrences up to it are never looked at again.
    materialized_through = models.DateTimeField(
        _("materialised through"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    history = HistoricalRecords()

    objects = TemplateQuerySet.as_manager()

    class Meta:
        verbose_name = _("checklist template")
        verbose_name_plural = _("checklist templates")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_key"],
                condition=~Q(source_key=""),
                name="checklists_template_unique_source",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("checklists:template", args=[self.pk])

    def clean(self):
        errors = {}
        if self.schedule:
            try:
                schedules.validate(self.schedule)
            except ValueError as exc:
                errors["schedule"] = [ValidationError(str(exc), code="cron")]
        if self.schedule and self.kind in INCIDENT_KINDS:
            errors["schedule"] = [
                ValidationError(
                    _(
                        "Incident and recovery checklists are started from an "
                        "incident; leave the schedule empty."
                    ),
                    code="rule",
                )
            ]
        if self.due_window is not None and self.due_window <= timedelta(0):
            errors["due_window"] = [
                ValidationError(_("The due window must be positive."), code="rule")
            ]
        if errors:
            raise ValidationError(errors)

    def is_shift(self) -> bool:
        """A routine run on a schedule: completing it asks for a handover note."""
        return self.kind == Kind.ROUTINE and bool(self.schedule)

    def schedule_text(self) -> str:
        return schedules.describe(self.schedule) if self.schedule else ""

    def run_name(self, occurrence: datetime | None) -> str:
        if occurrence is None:
            return self.name
        return f"{self.name} — {schedules.period_label(self.schedule, occurrence)}"


class Section(models.Model):
    template = models.ForeignKey(
        Template, verbose_name=_("template"), on_delete=models.CASCADE, related_name="sections"
    )
    title = models.CharField(_("title"), max_length=200)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("section")
        verbose_name_plural = _("sections")
        ordering = ["template", "position", "id"]

    def __str__(self):
        return self.title


class Item(models.Model):
    template = models.ForeignKey(
        Template, verbose_name=_("template"), on_delete=models.CASCADE, related_name="items"
    )
    section = models.ForeignKey(
        Section,
        verbose_name=_("section"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="items",
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    text = models.CharField(_("text"), max_length=500)
    details = models.TextField(_("details"), blank=True)
    command = models.TextField(
        _("command"), blank=True, help_text=_("Shown as code with a copy button.")
    )
    expected = models.CharField(_("expected result"), max_length=300, blank=True)
    required = models.BooleanField(_("required"), default=True)
    probe = models.ForeignKey(
        "probes.Probe",
        verbose_name=_("linked probe"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Shows the probe's latest status; the item can be ticked from it."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        ordering = ["template", "position", "id"]

    def __str__(self):
        return self.text

    def clean(self):
        if self.section_id and self.template_id and self.section.template_id != self.template_id:
            raise ValidationError(
                {
                    "section": ValidationError(
                        _("The section belongs to another template."), code="rule"
                    )
                }
            )


class RunStatus(models.TextChoices):
    OPEN = "open", _("open")
    IN_PROGRESS = "in_progress", _("in progress")
    OVERDUE = "overdue", _("overdue")
    COMPLETED = "completed", _("completed")
    ABANDONED = "abandoned", _("abandoned")
    # An occurrence that passed while nothing materialised runs (downtime): kept as a
    # row so it is visible and never created later.
    MISSED = "missed", _("missed")


ACTIVE_STATUSES = (RunStatus.OPEN, RunStatus.IN_PROGRESS, RunStatus.OVERDUE)


class RunQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)

    def with_progress(self):
        # One count per run, as correlated subqueries: a JOIN + GROUP BY would aggregate
        # every run in the table before a page's ORDER BY … LIMIT could stop it.
        items = RunItem.objects.filter(run=models.OuterRef("pk")).order_by().values("run")
        handled = items.exclude(state=ItemState.OPEN)
        return self.annotate(
            items_total=Coalesce(models.Subquery(items.annotate(n=Count("pk")).values("n")), 0),
            items_handled=Coalesce(models.Subquery(handled.annotate(n=Count("pk")).values("n")), 0),
        )

    def overdue_first(self):
        # Overdue before the rest, then the earliest due.
        return self.alias(
            overdue_rank=models.Case(
                models.When(status=RunStatus.OVERDUE, then=0),
                default=1,
                output_field=models.IntegerField(),
            )
        ).order_by("overdue_rank", models.F("due_at").asc(nulls_last=True), "-id")

    def for_user(self, user):
        """Runs assigned to the user (as contact, through their tier or a group) or to nobody."""
        contact = getattr(user, "contact", None)
        mine = Q(
            assignee_tier__isnull=True, assignee_contact__isnull=True, assignee_group__isnull=True
        )
        mine |= Q(assignee_group__in=user.groups.all())
        if contact is not None:
            mine |= Q(assignee_contact=contact)
            if contact.tier_id:
                mine |= Q(assignee_tier_id=contact.tier_id)
        return self.filter(mine)


class Run(models.Model):
    template = models.ForeignKey(
        Template, verbose_name=_("template"), on_delete=models.PROTECT, related_name="runs"
    )
    template_version = models.PositiveIntegerField(_("template version"), default=1)
    occurrence = models.DateTimeField(
        _("occurrence"),
        null=True,
        blank=True,
        help_text=_("The scheduled time this run is for; empty for runs started by hand."),
    )
    name = models.CharField(_("name"), max_length=300)
    status = models.CharField(
        _("status"), max_length=12, choices=RunStatus.choices, default=RunStatus.OPEN
    )
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    assignee_tier = models.ForeignKey(
        "incidents.Tier",
        verbose_name=_("assigned tier"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assignee_contact = models.ForeignKey(
        "incidents.Contact",
        verbose_name=_("assigned contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assignee_group = models.ForeignKey(
        "auth.Group",
        verbose_name=_("assigned group"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        verbose_name=_("incident"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checklist_runs",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("completed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reminded_at = models.DateTimeField(_("overdue reminder sent"), null=True, blank=True)

    objects = RunQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["reminded_at"])

    class Meta:
        verbose_name = _("checklist run")
        verbose_name_plural = _("checklist runs")
        ordering = ["-id"]
        constraints = [
            # Two clusters materialising the same minute: the second insert fails here.
            models.UniqueConstraint(
                fields=["template", "occurrence"], name="checklists_run_unique_occurrence"
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="checklists_run_status_due")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("checklists:run", args=[self.pk])

    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def is_overdue(self, now: datetime | None = None) -> bool:
        if self.status == RunStatus.OVERDUE:
            return True
        return (
            self.is_active() and self.due_at is not None and self.due_at < (now or timezone.now())
        )

    def progress(self) -> tuple[int, int]:
        """(handled, total); skipped and n/a count as handled. Uses `with_progress()` when
        annotated."""
        if hasattr(self, "items_total"):
            return self.items_handled, self.items_total
        items = list(self.items.all())
        return sum(1 for i in items if i.is_handled()), len(items)

    def open_required(self) -> list["RunItem"]:
        return [i for i in self.items.all() if i.required and i.state == ItemState.OPEN]

    def is_complete(self) -> bool:
        """Every required item handled: the run may be completed."""
        return not self.open_required()

    def wants_handover(self) -> bool:
        return self.template.is_shift()


class ItemState(models.TextChoices):
    OPEN = "open", _("open")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("skipped")
    NA = "n/a", _("not applicable")


class RunItem(models.Model):
    """One item of a run: a snapshot of the template's item when the run was made, plus its tick."""

    run = models.ForeignKey(
        Run, verbose_name=_("run"), on_delete=models.CASCADE, related_name="items"
    )
    item = models.ForeignKey(
        Item,
        verbose_name=_("template item"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    section = models.CharField(_("section"), max_length=200, blank=True)
    text = models.CharField(_("text"), max_length=500)
    details = models.TextField(_("details"), blank=True)
    command = models.TextField(_("command"), blank=True)
    expected = models.CharField(_("expected result"), max_length=300, blank=True)
    required = models.BooleanField(_("required"), default=True)
    probe = models.ForeignKey(
        "probes.Probe",
        verbose_name=_("linked probe"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    state = models.CharField(
        _("state"), max_length=8, choices=ItemState.choices, default=ItemState.OPEN
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("ticked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("ticked"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    value = models.CharField(_("value"), max_length=200, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        verbose_name=_("incident opened"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("run item")
        verbose_name_plural = _("run items")
        ordering = ["run", "position", "id"]

    def __str__(self):
        return self.text

    def is_handled(self) -> bool:
        return self.state != ItemState.OPEN


class Tick(models.Model):
    """Every tick and every undo, in order: the audit trail of a run."""

    run_item = models.ForeignKey(
        RunItem, verbose_name=_("run item"), on_delete=models.CASCADE, related_name="ticks"
    )
    state = models.CharField(_("state"), max_length=8, choices=ItemState.choices)
    previous_state = models.CharField(_("previous state"), max_length=8, choices=ItemState.choices)
    undo = models.BooleanField(_("undo"), default=False)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("time"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)
    value = models.CharField(_("value"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("tick")
        verbose_name_plural = _("ticks")
        ordering = ["id"]

    def __str__(self):
        return f"{self.run_item} → {self.state}"


class HandoverNote(models.Model):
    run = models.OneToOneField(
        Run, verbose_name=_("run"), on_delete=models.CASCADE, related_name="handover"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("written"), default=timezone.now)
    # Filled in automatically when the note is written (a snapshot: the list as it was).
    open_incidents = models.JSONField(_("open incidents"), default=list, blank=True)
    risks = models.TextField(_("risks"), blank=True)
    probes = models.TextField(_("silenced or noisy probes"), blank=True)
    planned_changes = models.TextField(_("planned changes"), blank=True)
    text = models.TextField(_("notes"), blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("handover note")
        verbose_name_plural = _("handover notes")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return str(_("Handover after %(run)s") % {"run": self.run})


class Playbook(models.Model):
    """A failure section of a runbook: symptoms, diagnosis, recovery, rollback. A document, not a
    checklist."""

    title = models.CharField(_("title"), max_length=200)
    service = models.ForeignKey(
        "incidents.Service",
        verbose_name=_("service"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="playbooks",
        help_text=_("Empty: shown for incidents of any service."),
    )
    category = models.CharField(
        _("incident category"),
        max_length=100,
        blank=True,
        help_text=_("Shown on incidents of this category (case-insensitive); empty: any."),
    )
    body = models.TextField(_("body (markdown)"))
    template = models.ForeignKey(
        Template,
        verbose_name=_("checklist to start"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="playbooks",
        limit_choices_to={"kind__in": INCIDENT_KINDS},
    )
    source_key = models.CharField(_("import source"), max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("playbook")
        verbose_name_plural = _("playbooks")
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_key"],
                condition=~Q(source_key=""),
                name="checklists_playbook_unique_source",
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("checklists:playbook", args=[self.pk])

    def clean(self):
        if self.service_id is None and not self.category:
            raise ValidationError(
                _("Give a service, a category or both: a playbook for everything helps nobody."),
                code="rule",
            )

    def matches(self, incident) -> bool:
        return (self.service_id is None or self.service_id == incident.service_id) and (
            not self.category or self.category.casefold() == (incident.category or "").casefold()
        )
