"""Partner-key limits from the environment, read the same way by the CLI and Client."""

from __future__ import annotations

import pytest

from ctct.api import RateLimits
from ctct.api.errors import InputError
from ctct.api.limits import limits_from_env


def test_environment_overrides_the_provider_limits() -> None:
    base = RateLimits(rate_per_second=4.0, daily_quota=10_000)
    partner = limits_from_env(base, {"CTCT_API_RATE": "10", "CTCT_API_DAILY_QUOTA": "250000"})
    assert (partner.rate_per_second, partner.daily_quota) == (10.0, 250_000)
    assert limits_from_env(base, {}) == base


@pytest.mark.parametrize("value", ["0", "-1", "fast"])
def test_a_bad_value_says_what_to_set(value: str) -> None:
    with pytest.raises(InputError, match="CTCT_API_RATE must be a positive number"):
        limits_from_env(RateLimits(rate_per_second=4.0, daily_quota=None), {"CTCT_API_RATE": value})
