"""Build DESIGN §9's benchmark dataset with bulk inserts, deterministically (a command of the
`bench` app, which bench/settings.py installs: run it with DJANGO_SETTINGS_MODULE=bench.settings).

    manage.py seed_bench --scale full    # 50 services, 200 contacts, 100 000 incidents with
                                         # 1 000 000 timeline events, 500 probes with 5 000 000
                                         # results, 50 checklist templates with 20 000 runs,
                                         # 50 backup targets with 20 000 runs
    manage.py seed_bench --scale small   # a tenth of the history, for quick runs

Every value comes from one seeded random generator and times are offsets
from one anchor (`--anchor`, default now to the minute), so two runs with the
same seed and anchor write the same rows. Nothing it writes is due: probes,
backups and checklist schedules are parked so that the portal's own workers
leave the dataset alone while the benchmarks run. Rows are written with
bulk_create in batches, the whole seed in one transaction (on SQLite one
transaction is what makes it fast); history tables (django-simple-history)
are not filled, as a bulk import would not fill them either.
"""

import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from backups.models import BackupRun, BackupTarget, Trigger, Verification
from backups.models import RunStatus as BackupStatus
from checklists.models import Item, ItemState, Run, RunItem, RunStatus, Section, Template
from incidents import rollups
from incidents.demo import POLICIES, TIERS
from incidents.escalation import snapshot_policy
from incidents.models import (
    ActionItem,
    ActionItemKind,
    ActionItemStatus,
    Availability,
    ChannelKind,
    Contact,
    EscalationPolicy,
    EscalationStep,
    EventKind,
    Incident,
    NotificationChannel,
    Postmortem,
    PostmortemStatus,
    Service,
    Severity,
    Source,
    Status,
    Tier,
    TimelineEvent,
)
from probes.kinds import HttpSettings, TcpSettings
from probes.models import Probe, ProbeResult
from probes.models import Status as ProbeStatus

BATCH = 5000


@dataclass(frozen=True)
class Scale:
    services: int
    contacts: int
    incidents: int
    open_incidents: int
    events: int
    probes: int
    results: int
    templates: int
    items_per_template: int
    runs: int
    targets: int
    backup_runs: int


SCALES = {
    "full": Scale(
        services=50,
        contacts=200,
        incidents=100_000,
        open_incidents=10_000,
        events=1_000_000,
        probes=500,
        results=5_000_000,
        templates=50,
        items_per_template=10,
        runs=20_000,
        targets=50,
        backup_runs=20_000,
    ),
    # A tenth of the history. The open incidents stay at 10 000: that is what the
    # escalation sweep's budget is stated for, so small incidents are 20 000.
    "small": Scale(
        services=50,
        contacts=200,
        incidents=20_000,
        open_incidents=10_000,
        events=200_000,
        probes=500,
        results=500_000,
        templates=50,
        items_per_template=10,
        runs=2_000,
        targets=50,
        backup_runs=2_000,
    ),
    # For tests: every table, a few rows each.
    "tiny": Scale(
        services=5,
        contacts=20,
        incidents=200,
        open_incidents=20,
        events=2_000,
        probes=10,
        results=1_000,
        templates=5,
        items_per_template=4,
        runs=40,
        targets=5,
        backup_runs=40,
    ),
}

# Who each escalation tier holds: an on-call team of the size DESIGN §1 describes.
# The other contacts (owners, vendors, stakeholders) are in no tier and never paged.
TIER_SIZES = {1: 2, 2: 2, 3: 1}
SEVERITY_WEIGHTS = {Severity.SEV1: 1, Severity.SEV2: 3, Severity.SEV3: 6, Severity.SEV4: 10}
CATEGORIES = (
    "API down",
    "database unreachable",
    "network",
    "container",
    "model/file corrupted",
    "performance degradation",
    "data contamination",
)
# An incident's story after "created": the kinds of its later events, in order, cycled.
STORY = (
    EventKind.ESCALATION,
    EventKind.NOTIFICATION_SENT,
    EventKind.NOTE,
    EventKind.STATUS,
    EventKind.PROBE,
    EventKind.NOTE,
    EventKind.DUPLICATE,
    EventKind.NOTIFICATION_SENT,
    EventKind.CHANGE,
)
# A few incidents carry long timelines (a bad outage); the timeline benchmark pages one of them.
LONG_TIMELINE = 250
LONG_EVERY = 400
PARKED = timedelta(days=3650)  # "next run" of seeded probes and backups: never during a benchmark


def bulk(model, rows) -> int:
    """Insert an iterable of unsaved rows in batches; return how many."""
    count, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            model.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    if batch:
        model.objects.bulk_create(batch)
        count += len(batch)
    return count


def spread(total: int, parts: int) -> list[int]:
    """`total` split into `parts` whole numbers that differ by at most one."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class Seeder:
    def __init__(self, scale: Scale, seed: int, anchor: datetime, write):
        self.scale, self.rng, self.anchor, self.write = scale, random.Random(seed), anchor, write

    def timed(self, label, function):
        started = time.perf_counter()
        counts = function()
        seconds = time.perf_counter() - started
        figures = ", ".join(f"{n:,} {name}" for name, n in counts.items())
        self.write(f"  {label:<11} {figures} in {seconds:.1f} s")

    def pin_clock(self, model, rows) -> None:
        """auto_now(_add) columns took the wall clock on insert: set them to the anchor."""
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]
        pks = [row.pk for row in rows]
        for start in range(0, len(pks), BATCH):
            model.objects.filter(pk__in=pks[start : start + BATCH]).update(
                **dict.fromkeys(fields, self.anchor)
            )

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    # People and services -----------------------------------------------------

    def people(self) -> dict:
        tiers = {
            level: Tier.objects.create(level=level, name=name, description=description)
            for level, name, description in TIERS
        }
        levels = [level for level, size in TIER_SIZES.items() for _ in range(size)]
        availabilities = list(Availability.values)
        contacts = []
        for i in range(self.scale.contacts):
            level = levels[i] if i < len(levels) else None
            contacts.append(
                Contact(
                    name=f"Contact {i + 1:03d}",
                    role="on call" if level else "stakeholder",
                    tier=tiers[level] if level else None,
                    phone=f"010-{i // 100:04d}-{i % 10000:04d}",
                    email=f"contact{i + 1:03d}@example.com",
                    chat_handle=f"@contact{i + 1}",
                    availability=availabilities[i % len(availabilities)]
                    if level
                    else Availability.ALWAYS,
                )
            )
        Contact.objects.bulk_create(contacts)
        NotificationChannel.objects.bulk_create(
            NotificationChannel(contact=c, kind=ChannelKind.EMAIL, target=c.email) for c in contacts
        )
        self.contacts = contacts
        for severity, steps in POLICIES.items():
            policy = EscalationPolicy.objects.create(severity=severity, name=f"Default {severity}")
            self.pin_clock(EscalationPolicy, [policy])
            EscalationStep.objects.bulk_create(
                EscalationStep(
                    policy=policy,
                    position=position,
                    after=after,
                    tier=tiers[level],
                    condition=condition,
                    business_hours_only=business_hours_only,
                )
                for position, (after, level, condition, business_hours_only) in enumerate(steps)
            )
        self.services = Service.objects.bulk_create(
            Service(
                name=f"Service {i + 1:02d}",
                description=f"Benchmark service {i + 1}",
                owner=contacts[i % len(contacts)],
                rto=timedelta(hours=1 + i % 8),
                # Longer than the day between the targets' nightly backups: a fresh
                # dataset is not fifty late backups, each an incident paging everyone
                # at the first freshness check, in the middle of whatever is measured.
                rpo=timedelta(hours=(26, 36, 48)[i % 3]),
            )
            for i in range(self.scale.services)
        )
        self.pin_clock(Service, self.services)
        # The default policies serve every service: one snapshot per severity.
        self.snapshots = {
            s: snapshot_policy(service=self.services[0], severity=s) for s in Severity.values
        }
        return {
            "tiers": len(tiers),
            "contacts": len(contacts),
            "channels": len(contacts),
            "services": len(self.services),
        }

    # Incidents ---------------------------------------------------------------

    def timeline_lengths(self) -> list[int]:
        n = self.scale.incidents
        long = set(range(n - 1, -1, -LONG_EVERY))
        if self.scale.events - LONG_TIMELINE * len(long) < n - len(long):
            # too few events to go round
            long = set()
        rest = spread(self.scale.events - LONG_TIMELINE * len(long), n - len(long))
        rest.reverse()
        return [LONG_TIMELINE if i in long else rest.pop() for i in range(n)]

    def incident(self, i: int) -> Incident:
        """Incident i of n, oldest first over the last year; the newest open_incidents are open."""
        n, rng = self.scale.incidents, self.rng
        created = self.anchor - timedelta(minutes=(n - i) * 525_600 // n + 5)
        severity = rng.choices(list(SEVERITY_WEIGHTS), weights=list(SEVERITY_WEIGHTS.values()))[0]
        service = self.services[rng.randrange(len(self.services))]
        is_open = i >= n - self.scale.open_incidents
        row = Incident(
            service=service,
            title=f"Bench incident {i + 1}: {rng.choice(CATEGORIES)}",
            severity=severity,
            category=rng.choice(CATEGORIES),
            source=rng.choice(Source.values),
            impact_started_at=created - timedelta(minutes=rng.randrange(0, 15)),
            detected_at=created,
            created_at=created,
            escalation_snapshot=self.snapshots[Severity.SEV1],
            escalation_started_at=self.anchor if is_open else created,
        )
        if is_open:
            # Triggered, Tier 1 paged; the next step is parked like every schedule here
            # (bench/sweep.py arms them when it times the sweep).
            row.status, row.escalation_step = Status.TRIGGERED, 0
            row.next_escalation_at = self.anchor + PARKED
        else:
            row.acknowledged_at = created + timedelta(minutes=rng.randrange(1, 90))
            row.resolved_at = row.acknowledged_at + timedelta(minutes=rng.randrange(5, 600))
            closed = rng.random() < 0.6
            row.status = Status.CLOSED if closed else Status.RESOLVED
            row.closed_at = row.resolved_at + timedelta(hours=2) if closed else None
        return row

    def events(self, incident: Incident, count: int):
        yield TimelineEvent(
            incident_id=incident.pk,
            at=incident.created_at,
            kind=EventKind.CREATED,
            message="Incident declared",
            data={"severity": incident.severity},
        )
        end = incident.resolved_at or self.anchor
        step = (end - incident.created_at) / max(count, 1)
        for k in range(1, count):
            kind = STORY[(k - 1) % len(STORY)]
            yield TimelineEvent(
                incident_id=incident.pk,
                at=incident.created_at + step * k,
                kind=kind,
                message=f"{kind} {k}",
                data={"n": k} if kind != EventKind.NOTE else {},
            )

    def incidents(self) -> dict:
        lengths = self.timeline_lengths()
        counts = {"incidents": 0, "events": 0}
        for start in range(0, self.scale.incidents, BATCH):
            rows = Incident.objects.bulk_create(
                self.incident(i) for i in range(start, min(start + BATCH, self.scale.incidents))
            )
            counts["incidents"] += len(rows)
            counts["events"] += bulk(
                TimelineEvent,
                (
                    event
                    for offset, incident in enumerate(rows)
                    for event in self.events(incident, lengths[start + offset])
                ),
            )
        # Written in bulk, past the services: their rollups (what reports and the dashboard read) at
        # once.
        counts["rollups"] = rollups.rebuild()
        return counts

    def postmortems(self) -> dict:
        """A published postmortem with two action items for every tenth resolved SEV1/SEV2
        incident."""
        incidents = list(
            Incident.objects.filter(
                severity__in=[Severity.SEV1, Severity.SEV2], resolved_at__isnull=False
            )
            .order_by("pk")
            .values_list("pk", "severity", "created_at", "resolved_at")[::10]
        )
        rows = Postmortem.objects.bulk_create(
            Postmortem(
                incident_id=pk,
                title=f"Postmortem {n + 1}",
                status=PostmortemStatus.PUBLISHED,
                severity=severity,
                summary="What happened, in two sentences.",
                impact="Users saw errors.",
                occurred_at=created,
                detected_at=created,
                recovered_at=resolved,
                trigger="A deploy.",
                root_cause="A missing check.",
                created_at=resolved + timedelta(days=1),
                published_at=resolved + timedelta(days=2),
            )
            for n, (pk, severity, created, resolved) in enumerate(incidents)
        )
        self.pin_clock(Postmortem, rows)
        kinds = list(ActionItemKind.values)
        items = bulk(
            ActionItem,
            (
                # Counted by position, not by id: the same seed writes the same rows
                # whatever ids the database hands out.
                ActionItem(
                    postmortem=pm,
                    description=f"Action {k + 1} of postmortem {n + 1}",
                    kind=kinds[(n + k) % 5],
                    owner=self.contacts[(n + k) % len(self.contacts)],
                    due_date=(pm.created_at + timedelta(days=14 * (k + 1))).date(),
                    status=ActionItemStatus.DONE if k == 0 else ActionItemStatus.OPEN,
                    done_at=pm.created_at + timedelta(days=7) if k == 0 else None,
                    created_at=pm.created_at,
                )
                for n, pm in enumerate(rows)
                for k in range(2)
            ),
        )
        return {"postmortems": len(rows), "action items": items}

    # Probes -------------------------------------------------------------------

    def probes(self) -> dict:
        rng, per = self.rng, spread(self.scale.results, self.scale.probes)
        http = HttpSettings.clean_config(
            {"url": "http://127.0.0.1:9/api/health", "expect": ["status in [ok, healthy]"]}
        )
        tcp = TcpSettings.clean_config({"host": "127.0.0.1", "port": 9})
        probes = []
        for i in range(self.scale.probes):
            kind = "tcp" if i % 5 == 4 else "http"
            probes.append(
                Probe(
                    service=self.services[i % len(self.services)],
                    name=f"probe-{i + 1:03d}",
                    kind=kind,
                    config=tcp if kind == "tcp" else http,
                    interval=60,
                    timeout=5,
                    token=self.uuid(),
                    next_run_at=self.anchor + PARKED,
                )
            )
        Probe.objects.bulk_create(probes)
        self.pin_clock(Probe, probes)
        results = 0
        for n, (probe, count) in enumerate(zip(probes, per, strict=True)):
            rows = list(self.results(probe, count, offset=timedelta(seconds=n % 60)))
            results += bulk(ProbeResult, rows)
            if rows:
                newest = rows[0]
                probe.status, probe.status_since = newest.status, newest.at
                probe.last_run_at, probe.last_latency_ms = newest.at, newest.latency_ms
                probe.last_value, probe.last_message = newest.value, newest.message
            probe.latency_24h = self.latency_buckets(rows)
            if rng.random() < 0.02:
                probe.consecutive_failures, probe.alerting = 3, True
        Probe.objects.bulk_update(
            probes,
            [
                "status",
                "status_since",
                "last_run_at",
                "last_latency_ms",
                "last_value",
                "last_message",
                "latency_24h",
                "consecutive_failures",
                "alerting",
            ],
            batch_size=500,
        )
        return {"probes": len(probes), "results": results}

    def results(self, probe: Probe, count: int, offset: timedelta):
        """The probe's last `count` results, newest first, one per interval, `offset` before the
        anchor."""
        rng = self.rng
        for k in range(count):
            roll = rng.random()
            status = (
                ProbeStatus.OK
                if roll < 0.95
                else ProbeStatus.WARNING
                if roll < 0.985
                else ProbeStatus.CRITICAL
                if roll < 0.995
                else ProbeStatus.ERROR
            )
            latency = (
                round(rng.lognormvariate(3.5, 0.5), 1) if status != ProbeStatus.ERROR else None
            )
            yield ProbeResult(
                probe_id=probe.pk,
                at=self.anchor - offset - timedelta(seconds=probe.interval * k),
                status=status,
                value=latency,
                latency_ms=latency,
                message="" if status == ProbeStatus.OK else f"{status}: {latency} ms",
            )

    def latency_buckets(self, rows) -> dict:
        hour = int(self.anchor.timestamp()) // 3600
        buckets = {}
        for row in rows:
            h = int(row.at.timestamp()) // 3600
            if h <= hour - 24:
                break
            if row.latency_ms is not None:
                count, total = buckets.get(str(h), [0, 0.0])
                buckets[str(h)] = [count + 1, round(total + row.latency_ms, 1)]
        return buckets

    # Checklists ---------------------------------------------------------------

    def checklists(self) -> dict:
        scale, per = self.scale, spread(self.scale.runs, self.scale.templates)
        templates = []
        for n in range(scale.templates):
            hour, minute = (9, 18)[n % 2], (n * 7) % 60
            schedule = f"{minute} {hour} * * *"
            # The newest occurrence at or before the anchor: runs are one a day back from it.
            latest = self.anchor.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if latest > self.anchor:
                latest -= timedelta(days=1)
            templates.append(
                Template(
                    name=f"Daily check {n + 1:02d}",
                    schedule=schedule,
                    service=self.services[n % len(self.services)],
                    created_at=latest - timedelta(days=per[n] + 1),
                    materialized_through=latest,
                )
            )
        Template.objects.bulk_create(templates)
        self.pin_clock(Template, templates)
        sections = Section.objects.bulk_create(
            Section(template=t, title="Checks", position=0) for t in templates
        )
        items = Item.objects.bulk_create(
            Item(
                template=t,
                section=s,
                position=k,
                text=f"Check {k + 1} of {t.name}",
                command="curl -fsS http://127.0.0.1:8000/api/health",
                expected="healthy",
                required=k % 4 != 3,
            )
            for t, s in zip(templates, sections, strict=True)
            for k in range(scale.items_per_template)
        )
        by_template = {}
        for item in items:
            by_template.setdefault(item.template_id, []).append(item)
        counts = {"templates": len(templates), "items": len(items), "runs": 0, "run items": 0}
        for template, count in zip(templates, per, strict=True):
            runs = Run.objects.bulk_create(self.runs(template, count), batch_size=BATCH)
            counts["runs"] += len(runs)
            counts["run items"] += bulk(
                RunItem,
                (
                    RunItem(
                        run_id=run.pk,
                        item_id=item.pk,
                        position=item.position,
                        section="Checks",
                        text=item.text,
                        command=item.command,
                        expected=item.expected,
                        required=item.required,
                        state=ItemState.OPEN if run.status == RunStatus.OPEN else ItemState.DONE,
                        at=None if run.status == RunStatus.OPEN else run.completed_at,
                    )
                    for run in runs
                    if run.status != RunStatus.MISSED
                    for item in by_template[template.pk]
                ),
            )
        return counts

    def runs(self, template: Template, count: int):
        latest = template.materialized_through
        for k in range(count):
            occurrence = latest - timedelta(days=k)
            status = (
                RunStatus.OPEN
                if k == 0
                else RunStatus.MISSED
                if self.rng.random() < 0.03
                else RunStatus.COMPLETED
            )
            completed = occurrence + timedelta(minutes=self.rng.randrange(10, 110))
            yield Run(
                template=template,
                occurrence=occurrence,
                name=template.run_name(occurrence),
                status=status,
                created_at=occurrence,
                due_at=None if status == RunStatus.MISSED else occurrence + timedelta(hours=2),
                started_at=occurrence if status == RunStatus.COMPLETED else None,
                completed_at=completed if status == RunStatus.COMPLETED else None,
            )

    # Backups ------------------------------------------------------------------

    def backups(self, data_dir: str) -> dict:
        per = spread(self.scale.backup_runs, self.scale.targets)
        targets = BackupTarget.objects.bulk_create(
            BackupTarget(
                name=f"bench-target-{n + 1:02d}",
                service=self.services[n % len(self.services)],
                kind="file",
                source=f"{data_dir}/bench-sources/db-{n + 1:02d}.sqlite3",
                destination=f"{data_dir}/bench-backups/target-{n + 1:02d}",
                next_run_at=self.anchor + PARKED,
            )
            for n in range(self.scale.targets)
        )
        self.pin_clock(BackupTarget, targets)
        runs = 0
        for target, count in zip(targets, per, strict=True):
            runs += bulk(BackupRun, self.backup_runs(target, count))
        return {"targets": len(targets), "runs": runs}

    def backup_runs(self, target: BackupTarget, count: int):
        """Daily runs at 02:00, oldest first; those beyond keep_last are pruned."""
        rng, last_two_am = self.rng, self.anchor.replace(hour=2, minute=0, second=0, microsecond=0)
        if last_two_am > self.anchor:
            last_two_am -= timedelta(days=1)
        for k in range(count - 1, -1, -1):
            started = last_two_am - timedelta(days=k)
            finished = started + timedelta(seconds=rng.randrange(5, 600))
            failed = rng.random() < 0.03
            size = rng.randrange(10**6, 10**9)
            yield BackupRun(
                target=target,
                trigger=Trigger.SCHEDULE,
                format="file",
                queued_at=started,
                started_at=started,
                finished_at=finished,
                heartbeat_at=finished,
                status=BackupStatus.FAILED if failed else BackupStatus.SUCCEEDED,
                file=""
                if failed
                else f"{target.destination}/{target.name}_{started:%Y%m%d_%H%M%S}.sqlite3",
                size=None if failed else size,
                bytes_done=0 if failed else size,
                sha256="" if failed else rng.randbytes(32).hex(),
                verification=Verification.PENDING if failed else Verification.PASSED,
                verified_at=None if failed else finished,
                error="disk full" if failed else "",
                pruned_at=finished + timedelta(days=target.keep_last)
                if k >= target.keep_last and not failed
                else None,
            )


def has_data() -> list[str]:
    return [
        str(model._meta.verbose_name_plural)
        for model in (Service, Incident, Probe, Template, BackupTarget)
        if model.objects.exists()
    ]


class Command(BaseCommand):
    help = (
        "Build the benchmark dataset of DESIGN §9 (bulk inserts, deterministic). "
        "Refuses a database with data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            choices=list(SCALES),
            default="small",
            help="full: DESIGN §9's dataset; small: a tenth of its history; tiny: for tests",
        )
        parser.add_argument("--seed", type=int, default=7, help="seed of the random generator")
        parser.add_argument(
            "--anchor", help="ISO time every generated time is relative to (default: now)"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="seed even though the database already holds services, incidents…",
        )

    def handle(self, *args, scale, seed, anchor, force, **options):
        existing = has_data()
        if existing and not force:
            raise CommandError(
                f"The database already holds {', '.join(existing)}: seed_bench writes into an "
                "empty one (a scratch data dir). --force adds to it anyway."
            )
        if anchor:
            moment = parse_datetime(anchor)
            if moment is None:
                raise CommandError(f"--anchor: not an ISO date and time: {anchor!r}")
            anchor_at = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        else:
            anchor_at = timezone.now().replace(second=0, microsecond=0)
        seeder = Seeder(SCALES[scale], seed, anchor_at, self.stdout.write)
        self.stdout.write(
            f"seed_bench --scale {scale} --seed {seed} on {connection.vendor}, "
            f"anchor {anchor_at:%Y-%m-%d %H:%M %Z}"
        )
        started = time.perf_counter()
        with transaction.atomic():
            seeder.timed("people", seeder.people)
            seeder.timed("incidents", seeder.incidents)
            seeder.timed("postmortems", seeder.postmortems)
            seeder.timed("probes", seeder.probes)
            seeder.timed("checklists", seeder.checklists)
            seeder.timed("backups", lambda: seeder.backups(str(settings.DATA_DIR)))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would have them by now
        self.stdout.write(f"seeded in {time.perf_counter() - started:.1f} s")
