"""The reports page's figures, cached until anything they are made from changes (issue 22).

A report is read from the month rollups, the postmortems, their action items and the services'
RTOs. Every change to those calls `changed()`: the rollups' writers (incidents.rollups), the
postmortems' and action items' conditional updates (incidents.postmortems), and the signals below
for saves and deletes. Reports are cached under a revision, a random value never used before;
`changed()`, once the change commits, replaces the revision, so no report cached under the old one
is read again.

Exact without a lock, because of the order each side keeps (the cache's reads and writes are
atomic; a file-cache value is written to a temporary file and renamed):
- a reader reads the revision, marks it used, and only then reads the database;
- a writer commits, then reads the mark, and replaces the revision if it is marked.
Either the writer sees the mark, and the revision the reader cached under is replaced, or the mark
came after the writer's look, so the reader's database reads came after the commit and saw it.
A revision nobody has read is not replaced: an alert storm of 1 000 new incidents costs two cache
reads each, not 1 000 cache writes (1.5 ms each to the file cache on a busy machine).

Nothing here may take a page down: without a cache (Redis away) the report is built each time. A
revision that could not be replaced (the cache was away when a change committed) ages out: cached
reports live `CACHE_SECONDS` at most.
"""

import hashlib
import logging
import secrets

from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

REVISION = "incidents:reports:revision"
USED = "incidents:reports:used"
CACHE_SECONDS = 300


def changed() -> None:
    """What reports are made of changed in this transaction (or just now, outside one)."""
    transaction.on_commit(_after_commit)


def _after_commit() -> None:
    try:
        revision, used = cache.get(REVISION), cache.get(USED)
        # No mark beside a revision: the mark was evicted (the file cache culls at MAX_ENTRIES).
        if revision is not None and used in (revision, None):
            cache.set(REVISION, secrets.token_hex(8), None)
    except Exception:  # a cache outage must not fail the change that committed
        log.warning("reports cache unreachable: reports may be stale for %s s", CACHE_SECONDS)


def cached(parts: tuple, build):
    """What `build()` answers for these key parts, from the cache while nothing it reads has
    changed."""
    try:
        revision = cache.get(REVISION)
        if revision is None:  # never set, or evicted: a new one, whoever writes first
            cache.add(REVISION, secrets.token_hex(8), None)
            revision = cache.get(REVISION)
        key = "incidents:report:" + hashlib.sha256(repr((revision, *parts)).encode()).hexdigest()
        found = cache.get(key)
        if found is None and cache.get(USED) != revision:
            cache.set(USED, revision, None)  # before the database is read
    except Exception:
        return build()
    if found is not None:
        return found
    value = build()
    try:
        cache.set(key, value, CACHE_SECONDS)
    except Exception:
        log.warning("reports cache unreachable: the report was not kept")
    return value


def connect_signals() -> None:
    """Saves and deletes of what a report reads outside the rollups (AppConfig.ready)."""
    from django.db.models.signals import post_delete, post_save

    from incidents.models import ActionItem, Incident, Postmortem, Service

    for model in (Postmortem, ActionItem, Service):
        post_save.connect(_on_change, sender=model, dispatch_uid=f"reportcache-save-{model}")
    for model in (Postmortem, ActionItem, Service, Incident):
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"reportcache-del-{model}")


def _on_change(**_kwargs) -> None:
    changed()
