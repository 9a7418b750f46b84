"""Recoverability per service: its RTO/RPO targets against the evidence (backup ages, the last
rehearsal's restore time, the last `restic check`), graded green / amber / red with the reasons.

Grades: within the target is green; past it but within the runbook's tolerable value is amber;
past that, or no evidence at all, is red. Missing targets or old evidence is amber: nothing
says the service is unrecoverable, but nothing proves it is recoverable either.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from backups.models import BackupRun, BackupTarget, OffsiteStatus, Rehearsal
from core.display import format_duration

# The rehearsals and checks are monthly; a little slack before their evidence counts as old.
EVIDENCE_MAX_AGE = timedelta(days=40)
ORDER = {"green": 0, "amber": 1, "red": 2}


@dataclass
class Card:
    service: object
    targets: list = field(default_factory=list)
    local_age: timedelta | None = None
    offsite_age: timedelta | None = None
    last_rehearsal: Rehearsal | None = None
    last_check_at: datetime | None = None
    last_check_passed: bool | None = None
    status: str = "green"
    reasons: list[str] = field(default_factory=list)

    def flag(self, status: str, reason: str) -> None:
        self.reasons.append(reason)
        if ORDER[status] > ORDER[self.status]:
            self.status = status


def _grade(
    card: Card, what: str, value: timedelta, goal: timedelta | None, tolerable: timedelta | None
) -> None:
    if goal is None:
        card.flag("amber", _("No %(what)s target is set for the service.") % {"what": what})
    elif value <= goal:
        return
    elif tolerable is not None and value <= tolerable:
        card.flag(
            "amber",
            _(
                "%(what)s: %(value)s, past the target %(goal)s but within the tolerable "
                "%(tolerable)s."
            )
            % {
                "what": what,
                "value": format_duration(value),
                "goal": format_duration(goal),
                "tolerable": format_duration(tolerable),
            },
        )
    else:
        card.flag(
            "red",
            _("%(what)s: %(value)s, past the target %(goal)s.")
            % {"what": what, "value": format_duration(value), "goal": format_duration(goal)},
        )


def scorecards(*, now: datetime) -> list[Card]:
    runs = BackupRun.objects.filter(target=OuterRef("pk")).order_by("-id")
    verified = runs.verified()
    offsite = verified.filter(offsite_status=OffsiteStatus.SUCCEEDED, snapshot_forgotten_at=None)
    targets = list(
        BackupTarget.objects.filter(enabled=True)
        .select_related("service", "repository")
        .annotate(
            local_at=Subquery(verified.values("finished_at")[:1]),
            offsite_at=Subquery(offsite.values("offsite_finished_at")[:1]),
            last_rehearsal_id=Subquery(
                Rehearsal.objects.filter(target=OuterRef("pk"), finished_at__isnull=False)
                .order_by("-id")
                .values("pk")[:1]
            ),
        )
        .order_by("service__name", "name")
    )
    cards: dict[int, Card] = {}
    for target in targets:
        cards.setdefault(target.service_id, Card(service=target.service)).targets.append(target)
    found = Rehearsal.objects.in_bulk([t.last_rehearsal_id for t in targets if t.last_rehearsal_id])
    for card in cards.values():
        newest = max(
            (t.last_rehearsal_id for t in card.targets if t.last_rehearsal_id), default=None
        )
        _grade_card(card, found.get(newest), now)
    return list(cards.values())


def _grade_card(card: Card, rehearsal: Rehearsal | None, now: datetime) -> None:
    service = card.service
    for target in card.targets:
        if target.local_at is None:
            card.flag("red", _("%(target)s has no verified backup.") % {"target": target.name})
        else:
            age = now - target.local_at
            card.local_age = max(card.local_age or age, age)
            _grade(
                card,
                _("Newest local backup of %(target)s") % {"target": target.name},
                age,
                service.rpo,
                service.tolerable_rpo,
            )
        if target.repository is None:
            card.flag(
                "amber",
                _(
                    "%(target)s is not copied off the machine: a lost disk takes the data and its "
                    "backups."
                )
                % {"target": target.name},
            )
            continue
        if target.offsite_at is None:
            card.flag(
                "red",
                _("%(target)s has no copy in %(repository)s.")
                % {"target": target.name, "repository": target.repository.name},
            )
        else:
            age = now - target.offsite_at
            card.offsite_age = max(card.offsite_age or age, age)
            _grade(
                card,
                _("Newest off-site copy of %(target)s") % {"target": target.name},
                age,
                service.rpo,
                service.tolerable_rpo,
            )
        repository = target.repository
        if card.last_check_at is None or (
            repository.last_check_at and repository.last_check_at < card.last_check_at
        ):
            card.last_check_at, card.last_check_passed = (
                repository.last_check_at,
                repository.last_check_passed,
            )
        if repository.last_check_at is None:
            card.flag(
                "amber", _("%(repository)s was never checked.") % {"repository": repository.name}
            )
        elif repository.last_check_passed is False:
            card.flag(
                "red",
                _("The last check of %(repository)s failed.") % {"repository": repository.name},
            )
        elif now - repository.last_check_at > EVIDENCE_MAX_AGE:
            card.flag(
                "amber",
                _("The last check of %(repository)s is older than %(days)d days.")
                % {"repository": repository.name, "days": EVIDENCE_MAX_AGE.days},
            )
    card.last_rehearsal = rehearsal
    if rehearsal is None:
        card.flag("amber", _("No restore was ever rehearsed."))
        return
    if not rehearsal.passed:
        card.flag("red", _("The last rehearsal failed: %(error)s") % {"error": rehearsal.error})
    elif now - rehearsal.started_at > EVIDENCE_MAX_AGE:
        card.flag(
            "amber",
            _("The last rehearsal is older than %(days)d days.") % {"days": EVIDENCE_MAX_AGE.days},
        )
    if rehearsal.duration is not None and rehearsal.passed:
        _grade(
            card,
            _("Rehearsed restore time"),
            rehearsal.duration,
            service.rto,
            service.tolerable_rto,
        )
