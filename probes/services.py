"""Probe workflows: claim due probes, run them concurrently, record results in
bulk, and turn state changes into incidents through incidents.services.
"""

import contextlib
import logging
import time
import uuid
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from core import bulk, shutdown
from core.errors import DomainError
from core.history import record_changes
from core.secrets import redact
from incidents import services as incidents
from incidents.models import EventKind, RouteEvent, Source, services_in_maintenance
from incidents.models import Status as IncidentStatus
from probes.kinds import Limits, Result, failed, grade, limits_for, lower_is_worse, run_check
from probes.models import Action, AgentBatch, Host, Probe, ProbeResult, Status, hash_token

logger = logging.getLogger(__name__)

# Threads for one batch of checks; most checks wait on the network, not the CPU.
POOL_SIZE = getattr(settings, "PROBES_POOL_SIZE", 50)
# Probes claimed per round of the scheduler loop.
CLAIM_LIMIT = 1000
# A check past its timeout by this much is given up on (it may be stuck in DNS,
# which requests' timeout does not cover); its thread is left to finish alone.
OVERRUN = 2.0
RETENTION_DAYS = getattr(settings, "PROBES_RESULT_RETENTION_DAYS", 30)
MESSAGE_LIMIT = 500  # ProbeResult.message's max_length
# What Probe.apply changes. next_run_at and last_ping_at are left out on purpose:
# a ping may move them while a tick runs, and the tick must not undo that.
STATE_FIELDS = [
    "status",
    "status_since",
    "consecutive_failures",
    "consecutive_successes",
    "alerting",
    "last_alert_at",
    "incident",
    "last_run_at",
    "last_value",
    "last_latency_ms",
    "last_message",
    "latency_24h",
    "flips",
    "last_flip_at",
    "sample",
    "last_code",
    "last_params",
    "last_detail",
    "value_24h",
]

Outcome = tuple[Probe, Result, datetime]


# Scheduling ------------------------------------------------------------------


def run_scheduler(
    *, seconds: float = 55, sleep=shutdown.sleep, clock=time.monotonic, stopping=shutdown.requested
) -> int:
    """One django-q2 tick: run due probes until `seconds` have passed, or the worker is stopping.

    django-q2's scheduler fires about every 30 s, so intervals under a minute
    need the loop; the tick sleeps until the next probe is due (at most 5 s,
    so a new probe does not wait long). A stopping worker (core.shutdown)
    ends the loop after the round it is in, so Ctrl+C does not wait for the minute.
    """
    end = clock() + seconds
    total = 0
    while True:
        ran = run_due()
        total += ran
        check_silent_hosts(now=timezone.now())  # the push agents' dead-man's switch
        remaining = end - clock()
        if remaining <= 0 or stopping():
            return total
        if ran >= CLAIM_LIMIT:
            continue
        upcoming = Probe.objects.filter(enabled=True).aggregate(at=Min("next_run_at"))["at"]
        pause = 5.0 if upcoming is None else (upcoming - timezone.now()).total_seconds()
        sleep(min(max(pause, 0.2), 5.0, remaining))
        if stopping():
            return total


def run_due(
    *, now: datetime | None = None, limit: int = CLAIM_LIMIT, pool_size: int = POOL_SIZE
) -> int:
    """Claim the probes due at `now`, run them, record the results; returns how many ran."""
    probes = claim_due(now=now or timezone.now(), limit=limit)
    if probes:
        record_results(outcomes=run_checks(probes, pool_size=pool_size))
    return len(probes)


def claim_due(*, now: datetime, limit: int = CLAIM_LIMIT) -> list[Probe]:
    """Take the due probes for this tick only.

    The conditional update (still due, still enabled) moves next_run_at past
    `now`, so a second cluster's update finds nothing left to claim; the token
    tells which rows this call won. One update per distinct interval.
    """
    due = list(Probe.objects.due(now).order_by("next_run_at").values_list("id", "interval")[:limit])
    if not due:
        return []
    token = uuid.uuid4()
    by_interval = defaultdict(list)
    for pk, interval in due:
        by_interval[interval].append(pk)
    for interval, ids in by_interval.items():
        Probe.objects.filter(pk__in=ids, enabled=True, next_run_at__lte=now).update(
            claim=token, next_run_at=now + timedelta(seconds=interval)
        )
    return list(Probe.objects.filter(claim=token).select_related("service"))


def limits_of(probe: Probe) -> Limits:
    return limits_for(probe.kind, probe.warning, probe.critical, probe.timeout, probe.config)


def run_checks(probes: list[Probe], *, pool_size: int = POOL_SIZE) -> list[Outcome]:
    """Run the checks in a bounded pool; none holds the batch past its own timeout."""
    started: dict[int, float] = {}

    def check(probe):
        started[probe.pk] = time.monotonic()
        result = run_check(probe.kind, probe.config, limits_of(probe), previous=probe.sample)
        return result, timezone.now()

    outcomes = []
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(pool_size, len(probes))), thread_name_prefix="probe"
    )
    try:
        futures = {pool.submit(check, probe): probe for probe in probes}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            for future in done:
                result, at = future.result()
                outcomes.append((futures[future], result, at))
            clock = time.monotonic()
            for future in list(pending):
                probe = futures[future]
                began = started.get(probe.pk)
                if began is not None and clock - began > probe.timeout + OVERRUN:
                    pending.discard(future)
                    outcomes.append(
                        (
                            probe,
                            failed(
                                "timeout",
                                {"seconds": f"{probe.timeout:g}"},
                                detail=_("no answer within the timeout"),
                            ),
                            timezone.now(),
                        )
                    )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return outcomes


# Recording and alerting ------------------------------------------------------


def record_results(*, outcomes: list[Outcome]) -> list[ProbeResult]:
    """Write the results in bulk, fold them into each probe's state, and alert.

    SQLite has one write lock for the whole database, and the pager needs it to write a new
    incident's first page: a tick must never hold it for long. So the state is folded in memory
    first; the results and the probes' new state are written in one transaction of a fixed number
    of statements; then each alert (an incident opened, reminded or resolved) commits in its own
    short transaction, and the alerting probes' state is written once more. A crash before that
    last write leaves the probe failing and not alerting: its next failing result alerts again and
    finds the incident already open (the probe's dedup key), so nothing is opened twice.
    """
    # A message can quote what a target or a file said; everyone with a role reads it.
    outcomes = [
        (
            probe,
            replace(
                result,
                message=redact(result.message or "", MESSAGE_LIMIT),
                detail=redact(result.detail or "", MESSAGE_LIMIT),
            ),
            at,
        )
        for probe, result, at in outcomes
    ]
    rows = [
        ProbeResult(
            probe=probe,
            at=at,
            status=result.status,
            value=result.value,
            latency_ms=result.latency_ms,
            message=(result.message or "")[:500],
            code=result.code,
            params=result.params or {},
            detail=result.detail[:500],
        )
        for probe, result, at in outcomes
    ]
    alerts, routed = [], []
    before = {probe.pk: (probe.status, probe.alerting) for probe, _result, _at in outcomes}
    for probe, result, at in outcomes:
        action = probe.apply(
            status=result.status,
            value=result.value,
            latency_ms=result.latency_ms,
            message=result.message,
            at=at,
            code=result.code,
            params=result.params,
            detail=result.detail,
        )
        if result.sample is not None:
            probe.sample = result.sample
        if action:
            alerts.append((probe, action, result, at))
        if event := _route_event(probe, before[probe.pk][0], action):
            routed.append((probe, event, result, at))
    probes = [probe for probe, _result, _at in outcomes]

    def changed():
        # History for flips only, not for every result (the results are their own record),
        # nor for a new probe's first status, unless it alerts at once.
        return [
            probe
            for probe in probes
            if probe.alerting != before[probe.pk][1]
            or before[probe.pk][0] not in (probe.status, Status.UNKNOWN)
        ]

    with transaction.atomic():
        ProbeResult.objects.bulk_create(rows, batch_size=500)
        _write_state(probes)
        if not alerts:
            record_changes(changed())
    if alerts:
        _alert(alerts)  # each in a transaction of its own: the pager may write in between
    if routed:
        _route(routed)
    if alerts:
        with transaction.atomic():
            # The incident, alerting and flip fields _alert set.
            _write_state([probe for probe, _action, _result, _at in alerts])
            record_changes(changed())
    return rows


def _write_state(probes: list[Probe]) -> None:
    # core.bulk: one UPDATE … FROM (VALUES …) for a tick's hundreds of probes; the ORM's
    # bulk_update compiles a CASE WHEN per probe and field, seconds under the write lock.
    attnames = [Probe._meta.get_field(name).attname for name in STATE_FIELDS]
    bulk.update(
        Probe,
        ("id", *STATE_FIELDS),
        [(probe.pk, *(getattr(probe, name) for name in attnames)) for probe in probes],
    )


# SQLite's writers wait for its one write lock in its busy handler, which retries every 100 ms
# once it has waited a while: a burst of alerts back to back (the round where hundreds of probes
# fail together), one short transaction each, leaves them no gap to get in, and the pager's pages
# would wait for the whole burst. So on SQLite a burst pauses ALERT_PAUSE every ALERT_BURST.
ALERT_BURST = 0.5
ALERT_PAUSE = 0.2


def _alert(
    alerts: list[tuple[Probe, str, Result, datetime]], *, clock=time.monotonic, sleep=time.sleep
) -> None:
    at = max(when for _p, _a, _r, when in alerts)
    in_maintenance = services_in_maintenance({probe.service_id for probe, *_rest in alerts}, at)
    # Inside a caller's transaction (a ping, an agent's batch) the lock is held anyway.
    yields = connection.vendor == "sqlite" and not connection.in_atomic_block
    burst = clock()
    for probe, action, result, when in alerts:
        if yields and clock() - burst >= ALERT_BURST:
            sleep(ALERT_PAUSE)
            burst = clock()
        try:
            if action == Action.RECOVER:
                _recover(probe, result, when)
            elif probe.service_id in in_maintenance:
                # Recorded, not paged: after the window, the next failure opens it.
                continue
            else:
                _open_or_remind(probe, action, result, when)
        except Exception:  # one probe's alert must not lose the other results
            logger.exception("alerting for probe %s failed", probe.pk)


def _route_event(probe: Probe, status_before: str, action: str | None) -> str | None:
    """The event team channels may route (incidents.routes): a flip into warning, the alert, the
    recovery."""
    if action == Action.OPEN:
        return RouteEvent.PROBE_CRITICAL
    if action == Action.RECOVER:
        return RouteEvent.PROBE_RECOVERED
    if probe.status == Status.WARNING and status_before != Status.WARNING:
        return RouteEvent.PROBE_WARNING
    return None


def _route(routed: list[tuple[Probe, str, Result, datetime]]) -> None:
    at = max(when for _p, _e, _r, when in routed)
    in_maintenance = services_in_maintenance({probe.service_id for probe, *_rest in routed}, at)
    for probe, event, result, when in routed:
        if probe.service_id in in_maintenance and event != RouteEvent.PROBE_RECOVERED:
            continue  # a window silences warnings as it silences pages
        try:
            incidents.emit_event(
                event=event,
                key=f"probe:{probe.pk}:{int(when.timestamp() * 1000)}",
                severity=probe.severity,
                title=probe.name,
                service=probe.service,
                detail=result.message or "",
                url=settings.BASE_URL + probe.get_absolute_url(),
                incident=probe.incident if event != RouteEvent.PROBE_WARNING else None,
                now=when,
            )
        except Exception:  # a route must not lose the results
            logger.exception("routing probe %s's %s failed", probe.pk, event)


def _open_or_remind(probe: Probe, action: str, result: Result, at: datetime) -> None:
    if action == Action.OPEN:
        probe.note_flip(at)
        if _retrigger(probe, result, at):
            return
    # A reminder goes through open_incident too: it adds a "repeated alert" event to
    # the open incident, or opens a new one if somebody resolved it meanwhile.
    incident, created = incidents.open_incident(
        service=probe.service,
        severity=probe.severity,
        dedup_key=dedup_key(probe),
        source=Source.HEARTBEAT if probe.is_heartbeat else Source.PROBE,
        title=_("Probe %(name)s is %(status)s") % {"name": probe.name, "status": result.status},
        description=result.message,
        now=at,
    )
    if action == Action.OPEN or created:
        incidents.add_event(
            incident=incident,
            kind=EventKind.PROBE,
            now=at,
            message=result.message,
            data={
                "probe": probe.pk,
                "status": result.status,
                "value": result.value,
                "variant": "failing",
                "count": probe.consecutive_failures,
            },
        )
    probe.alerting, probe.last_alert_at, probe.incident = True, at, incident


def _retrigger(probe: Probe, result: Result, at: datetime) -> bool:
    """Flap damping: failing again within the re-open window of its last incident's resolve
    re-opens that incident (it pages at most once per window) rather than opening another."""
    incident = probe.incident
    if (
        not probe.reopen_minutes
        or incident is None
        or incident.status != IncidentStatus.RESOLVED
        or incident.resolved_at is None
        or at - incident.resolved_at > probe.reopen_window
    ):
        return False
    try:
        incidents.retrigger(
            incident=incident,
            reason=result.message,
            page_window=probe.reopen_window,
            now=at,
            cause={
                "count": probe.consecutive_failures,
                "since": (at - incident.resolved_at).total_seconds(),
            },
        )
    except DomainError:
        return False  # closed or open again meanwhile, or its key taken: a new incident as before
    probe.alerting, probe.last_alert_at = True, at
    return True


def _recover(probe: Probe, result: Result, at: datetime) -> None:
    probe.alerting, probe.last_alert_at = False, None
    probe.note_flip(at)
    incident = probe.incident
    if incident is None or not incident.is_open:
        return
    incidents.add_event(
        incident=incident,
        kind=EventKind.PROBE,
        now=at,
        message=result.message,
        data={
            "probe": probe.pk,
            "status": result.status,
            "recovered": True,
            "variant": "recovered",
            "count": probe.consecutive_successes,
        },
    )
    if probe.auto_resolve:
        # DomainError: somebody resolved it a moment ago; nothing left to do.
        with contextlib.suppress(DomainError):
            incidents.resolve(incident=incident, by=None)


def dedup_key(probe: Probe) -> str:
    return f"probe:{probe.pk}"


# Run now, heartbeats, retention ---------------------------------------------


def run_probe(*, probe: Probe) -> ProbeResult:
    """Run one probe now (the "run now" button), bounded by its timeout."""
    if probe.is_heartbeat:
        raise DomainError(
            _("A heartbeat is pushed by its job; it cannot be run from here."),
            code="heartbeat",
            conflict=True,
        )
    if probe.on_host:
        raise DomainError(
            _("This check runs on its host; its agent pushes the results."),
            code="on_host",
            conflict=True,
        )
    [outcome] = run_checks([probe], pool_size=1)
    return record_results(outcomes=[outcome])[0]


def record_ping(
    *, probe: Probe, failed: bool = False, message: str = "", now: datetime | None = None
) -> ProbeResult:
    """A heartbeat ping (or /fail): a result now, and the deadline moved to period + grace from
    now."""
    now = now or timezone.now()
    text = (message or "").strip()[:500] or (_("failure reported") if failed else _("ping"))
    # Its value: hours since the previous ping (what its chart draws), none for the first.
    since = (
        round((now - probe.last_ping_at).total_seconds() / 3600, 2) if probe.last_ping_at else None
    )
    result = Result(Status.CRITICAL if failed else Status.OK, since, message=text)
    with transaction.atomic():
        Probe.objects.filter(pk=probe.pk).update(
            last_ping_at=now, next_run_at=now + timedelta(seconds=probe.interval) + probe.grace
        )
        return record_results(outcomes=[(probe, result, now)])[0]


def prune_results(
    *, now: datetime | None = None, days: int = RETENTION_DAYS, batch_size: int = 5000
) -> int:
    """Delete results older than `days`, a batch at a time so no delete holds the table for long."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            ProbeResult.objects.filter(at__lt=cutoff)
            .order_by("at")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += ProbeResult.objects.filter(id__in=ids).delete()[0]


def prune_batches(*, now: datetime | None = None, days: int = RETENTION_DAYS) -> int:
    """Batch ids older than the results they guarded: a spool is bounded far below that."""
    return AgentBatch.objects.filter(
        received_at__lt=(now or timezone.now()) - timedelta(days=days)
    ).delete()[0]


# Hosts and their push agents -------------------------------------------------

# Results in one push at most (the agent splits bigger runs); a body over PUSH_BODY_LIMIT is a 413.
PUSH_RESULTS_LIMIT = 500
PUSH_BODY_LIMIT = 512 * 1024
# A result's time may be this far ahead of the portal's clock (clock skew), and this far behind
# (replayed from the spool after an outage).
PUSH_FUTURE_SKEW = timedelta(minutes=5)
PUSH_MAX_AGE = timedelta(days=7)
AGENT_SILENT = _("The agent of %(host)s is silent")
# When this process started (a monotonic clock): after the portal itself was down, agents get a
# full interval + grace to report again before they count as silent, not an incident per host.
STARTED = time.monotonic()


def host_for_token(token: str) -> Host | None:
    """The enabled host this token belongs to, or None (unknown, rotated or disabled alike)."""
    if not token:
        return None
    return (
        Host.objects.select_related("service")
        .filter(token_hash=hash_token(token), enabled=True)
        .first()
    )


def host_checks(*, host: Host) -> list[Probe]:
    """What the host's agent runs: its enabled probes (a command check only while the host allows
    them)."""
    probes = host.probes.filter(enabled=True).select_related("service").order_by("id")
    if not host.allow_commands:
        probes = probes.exclude(kind="host_command")
    return list(probes)


def agent_seen(*, host: Host, version: str, now: datetime) -> None:
    """The agent called: note when and which version; a silent host comes back."""
    Host.objects.filter(pk=host.pk).update(last_seen_at=now, agent_version=(version or "")[:40])
    host.last_seen_at, host.agent_version = now, (version or "")[:40]
    if host.silent:
        _agent_back(host, now)


@dataclass
class PushReport:
    accepted: int
    rejected: list
    duplicate: bool = False


def record_push(
    *,
    host: Host,
    batch: uuid.UUID,
    results: list[dict],
    version: str = "",
    now: datetime | None = None,
) -> PushReport:
    """A batch of results from a host's agent, each {probe, at, status, value, latency_ms, message}
    already shaped by the serializer. A result for a probe not assigned to this host (or disabled,
    or a command check the host does not allow) is rejected and counted on the host; the others go
    through the same state machine as the portal's own checks. A batch id seen before is
    acknowledged and not recorded again."""
    now = now or timezone.now()
    with transaction.atomic():
        _created, fresh = AgentBatch.objects.get_or_create(
            host=host, batch=batch, defaults={"received_at": now}
        )
        if not fresh:
            agent_seen(host=host, version=version, now=now)
            return PushReport(accepted=0, rejected=[], duplicate=True)
        assigned = {probe.pk: probe for probe in host_checks(host=host)}
        outcomes, rejected = [], []
        for item in sorted(results, key=lambda item: item["at"]):
            probe = assigned.get(item["probe"])
            reason = None
            if probe is None:
                reason = _("not a check assigned to this host")
            elif item["at"] > now + PUSH_FUTURE_SKEW or item["at"] < now - PUSH_MAX_AGE:
                reason = _("its time is too far from the portal's clock")
            if reason:
                rejected.append({"probe": item["probe"], "reason": str(reason)})
                continue
            outcomes.append((probe, _graded(probe, item), item["at"]))
        if rejected:
            Host.objects.filter(pk=host.pk).update(
                rejected_results=F("rejected_results") + len(rejected),
                last_rejected_at=now,
                last_rejection=f"probe {rejected[-1]['probe']}: {rejected[-1]['reason']}"[:300],
            )
            logger.warning("host %s pushed %d results it may not push", host.pk, len(rejected))
        agent_seen(host=host, version=version, now=now)
        # One probe's results in time order, each folded into the state after the one before.
        by_probe = defaultdict(list)
        for outcome in outcomes:
            by_probe[outcome[0].pk].append(outcome)
        while by_probe:
            round_ = [items.pop(0) for items in by_probe.values()]
            by_probe = {pk: items for pk, items in by_probe.items() if items}
            record_results(outcomes=round_)
    return PushReport(accepted=len(outcomes), rejected=rejected)


def _graded(probe: Probe, item: dict) -> Result:
    """The agent says whether the check itself passed; the portal grades the value by the probe's
    thresholds."""
    status, value = item["status"], item.get("value")
    if status == Status.OK and value is not None:
        status = grade(
            value, limits_of(probe), lower_worse=lower_is_worse(probe.kind, probe.config)
        )
    return Result(status, value, item.get("latency_ms"), item.get("message") or "")


def check_silent_hosts(*, now: datetime) -> int:
    """The dead-man's switch: a host not heard from for its interval + grace turns its probes to
    `error` and opens one "agent silent" incident; returns how many hosts went silent now. Not
    until this process has run that long itself: the agents may have been waiting on the portal."""
    went = 0
    up = time.monotonic() - STARTED
    for host in Host.objects.filter(
        enabled=True, silent=False, last_seen_at__isnull=False
    ).select_related("service"):
        if host.deadline > now or up < host.interval + host.grace:
            continue
        with transaction.atomic():
            # Only one tick marks it (two clusters, or a push arriving meanwhile).
            if not Host.objects.filter(
                pk=host.pk, silent=False, last_seen_at=host.last_seen_at
            ).update(silent=True):
                continue
            _agent_silent(host, now)
            went += 1
    return went


def _agent_silent(host: Host, now: datetime) -> None:
    message = _("no report from the agent since %(at)s") % {
        "at": host.last_seen_at.isoformat(timespec="seconds")
    }
    probes = list(host.probes.filter(enabled=True))
    ProbeResult.objects.bulk_create(
        [ProbeResult(probe=probe, at=now, status=Status.ERROR, message=message) for probe in probes]
    )
    # Their status says so; the host's one incident pages, not one per probe.
    Probe.objects.filter(pk__in=[p.pk for p in probes]).exclude(status=Status.ERROR).update(
        status=Status.ERROR, status_since=now
    )
    Probe.objects.filter(pk__in=[p.pk for p in probes]).update(
        last_message=message, last_run_at=now, consecutive_successes=0
    )
    incident, _created = incidents.open_incident(
        service=host.service,
        severity=host.severity,
        dedup_key=silent_key(host),
        source=Source.PROBE,
        title=AGENT_SILENT % {"host": host.name},
        description=message,
        now=now,
    )
    incidents.add_event(
        incident=incident,
        kind=EventKind.PROBE,
        now=now,
        data={
            "host": host.pk,
            "silent": True,
            "variant": "agent_silent",
            "since": host.last_seen_at.isoformat(timespec="seconds"),
        },
    )
    Host.objects.filter(pk=host.pk).update(silent_incident=incident)
    host.silent, host.silent_incident = True, incident


def _agent_back(host: Host, now: datetime) -> None:
    Host.objects.filter(pk=host.pk).update(silent=False)
    host.silent = False
    incident = host.silent_incident
    if incident is None or not incident.is_open:
        return
    incidents.add_event(
        incident=incident,
        kind=EventKind.PROBE,
        now=now,
        data={"host": host.pk, "recovered": True, "variant": "agent_back", "host_name": host.name},
    )
    with contextlib.suppress(DomainError):
        incidents.resolve(incident=incident, by=None)


def silent_key(host: Host) -> str:
    return f"host:{host.pk}:silent"


def handover_text() -> str:
    """A starting point for a shift handover's probes field (checklists, through
    ProbesConfig.handover_fields): probes off or not ok right now."""
    lines = []
    for probe in (
        Probe.objects.select_related("service")
        .exclude(status="ok")
        .order_by("service__name", "name")[:30]
    ):
        state = _("disabled") if not probe.enabled else probe.get_status_display()
        lines.append(f"- {probe.service.name} / {probe.name}: {state}")
    return "\n".join(lines)
