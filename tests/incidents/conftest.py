"""Fixtures the incidents tests share."""

from datetime import timedelta

import pytest
import time_machine

from tests.incidents.factories import make_contact, make_policy, make_tier


@pytest.fixture
def frozen(request):
    """Time stopped at the test module's NOW (`pytestmark = pytest.mark.usefixtures("frozen")`)."""
    with time_machine.travel(request.module.NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def paging(db):
    """One Tier 1 contact paged at once for a SEV1, with an e-mail channel; add more channels per test."""
    tier = make_tier(1, "Operations")
    contact = make_contact("ops", tier=tier)
    make_policy("sev1", [{"after": timedelta(0), "tier": tier}])
    return contact
