"""The production settings plus the baseline endpoints the benchmarks compare against."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
