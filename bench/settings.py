"""The production settings plus the baseline endpoints the benchmarks compare against."""

from portal.settings import *

ROOT_URLCONF = "bench.urls"
