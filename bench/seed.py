"""Seed the bench database: a token for the load generator and rows to list.

Run by bench/run.py with DJANGO_SETTINGS_MODULE=bench.settings.
"""

import argparse
import json
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_q.models import Task  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

BATCH = 5000


def seed_tasks(n: int) -> None:
    now = timezone.now()
    for start in range(0, n, BATCH):
        Task.objects.bulk_create(
            Task(id=uuid.uuid4().hex, name=f"bench-{i}", func="portal.tasks.heartbeat", group="bench",
                 started=now - timedelta(seconds=i), stopped=now - timedelta(seconds=i), success=i % 10 != 0,
                 result=None if i % 10 else "bench failure")
            for i in range(start, min(n, start + BATCH))
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    with transaction.atomic():
        user = get_user_model().objects.create_superuser("bench", password=uuid.uuid4().hex)
        token = Token.objects.create(user=user)
        seed_tasks(args.tasks)
    print(json.dumps({"token": token.key}))


if __name__ == "__main__":
    main()
