import pytest

from llmfallback.core.cooldown import CooldownPolicy
from llmfallback.core.errors import (
    AuthFailed,
    BadRequest,
    ContentFiltered,
    InvalidResponse,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    Unavailable,
    UnknownError,
)

NOW = 1000.0


def policy(**kwargs):
    return CooldownPolicy(rng=lambda: 0.0, **kwargs)


def seconds(decision):
    return decision.until - NOW


def test_rate_limit_defaults_to_60_seconds():
    assert seconds(policy().decide(RateLimited("x"), episodes=0, now=NOW)) == 60


def test_rate_limit_honours_a_short_provider_hint():
    assert seconds(policy().decide(RateLimited("x", retry_after=2.5), episodes=0, now=NOW)) == 2.5


def test_quota_waits_for_the_named_reset_else_hours():
    assert seconds(policy().decide(QuotaExceeded("x", retry_after=578), episodes=0, now=NOW)) == 578
    assert seconds(policy().decide(QuotaExceeded("x"), episodes=0, now=NOW)) >= 3600


def test_timeout_cools_30_seconds():
    assert seconds(policy().decide(ProviderTimeout("x"), episodes=3, now=NOW)) == 30


@pytest.mark.parametrize("error", [Unavailable("x"), InvalidResponse("x")])
def test_unavailable_and_invalid_response_grow_with_repeats_up_to_a_cap(error):
    p = policy(adaptive_base_s=10, adaptive_cap_s=300)
    assert [seconds(p.decide(error, episodes=t, now=NOW)) for t in range(7)] == [
        10,
        20,
        40,
        80,
        160,
        300,
        300,
    ]


def test_unavailable_respects_a_longer_retry_after():
    assert seconds(policy().decide(Unavailable("x", retry_after=120), episodes=0, now=NOW)) == 120


def test_unknown_backs_off_exponentially_from_5_to_80_seconds():
    p = policy()
    assert [seconds(p.decide(UnknownError("x"), episodes=t, now=NOW)) for t in range(6)] == [
        5,
        10,
        20,
        40,
        80,
        80,
    ]


def test_auth_marks_unavailable_with_no_end():
    decision = policy().decide(AuthFailed("x"), episodes=0, now=NOW)
    assert (decision.until, decision.unavailable, decision.scope) == (None, True, "key")


@pytest.mark.parametrize(
    "error", [ContentFiltered("x"), BadRequest("x"), BadRequest("x", too_large=True)]
)
def test_content_filter_and_bad_request_do_not_cool_down(error):
    assert policy().decide(error, episodes=0, now=NOW).until is None


def test_key_scoped_classes_cool_the_key_and_the_rest_the_provider():
    p = policy()
    assert p.decide(RateLimited("x"), episodes=0, now=NOW).scope == "key"
    assert p.decide(QuotaExceeded("x"), episodes=0, now=NOW).scope == "key"
    assert p.decide(Unavailable("x"), episodes=0, now=NOW).scope == "provider"


def test_jitter_only_ever_adds_time():
    p = CooldownPolicy(rng=lambda: 1.0, jitter=0.1)
    assert seconds(
        p.decide(RateLimited("x", retry_after=30), episodes=0, now=NOW)
    ) == pytest.approx(33)
