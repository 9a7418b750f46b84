"""The production settings plus the baseline endpoints the benchmarks compare against."""

from portal.settings import *

ROOT_URLCONF = "bench.urls"

# bench/management/commands/seed_bench.py: the dataset command lives with the benchmarks.
# Before "portal", which stays last (see portal/settings.py).
INSTALLED_APPS = [*INSTALLED_APPS[:-1], "bench", INSTALLED_APPS[-1]]
