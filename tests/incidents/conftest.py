"""Fixtures the incidents tests share."""

import pytest
import time_machine

from tests.incidents.paging import make_paged_contact
from tests.incidents.report_data import make_hand_built


@pytest.fixture
def frozen(request):
    """Time stopped at the test module's NOW (`pytestmark = pytest.mark.usefixtures("frozen")`)."""
    with time_machine.travel(request.module.NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def paging(db):
    """One Tier 1 contact paged at once for a SEV1, with an e-mail channel; add more channels per
    test."""
    return make_paged_contact()


@pytest.fixture
def hand_built():
    """Four resolved incidents, one never acknowledged, one still open; others outside the period
    or service."""
    return make_hand_built()
