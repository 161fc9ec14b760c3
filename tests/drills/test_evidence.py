"""The drills' judgement, on hand-made records: calls in cooldowns, incidents, timestamps."""

from datetime import UTC, datetime

from bench.evidence import (
    Cooldown,
    calls_in_cooldown,
    epoch,
    incidents,
    overlong_cooldowns,
    split_in_flight,
)


def call(provider, t, served="ok"):
    return {"provider": provider, "t": t, "mono": t, "key": "k", "served": served}


def test_a_call_inside_a_cooldown_of_its_provider_is_found_and_others_are_not():
    cooling = [Cooldown("groq", "unavailable", 100.0, 110.0)]
    calls = [call("groq", 99.9), call("groq", 105.0), call("gemini", 105.0), call("groq", 110.5)]
    hits = calls_in_cooldown(calls, cooling)
    assert [(h.provider, h.at) for h in hits] == [("groq", 105.0)]
    assert hits[0].into_s == 5.0


def test_calls_just_after_a_cooldown_began_count_as_in_flight_not_as_violations():
    cooling = [Cooldown("groq", "timeout", 100.0, 130.0)]
    hits = calls_in_cooldown([call("groq", 100.2), call("groq", 101.0)], cooling)
    in_flight, violations = split_in_flight(hits, slack_s=0.5)
    assert [h.at for h in in_flight] == [100.2]
    assert [h.at for h in violations] == [101.0]


def test_overlapping_cooldowns_cover_their_union():
    cooling = [
        Cooldown("gemini", "rate_limit", 100.0, 102.0),
        Cooldown("gemini", "unavailable", 101.0, 111.0),
    ]
    assert len(calls_in_cooldown([call("gemini", 105.0)], cooling)) == 1


def test_bursts_closer_than_the_settling_time_are_one_incident():
    bursts = [
        {"start": 0.0, "end": 1.5},
        {"start": 3.0, "end": 4.0},
        {"start": 50.0, "end": 51.0},
        {"start": 500.0, "end": 501.0},  # after the load: not counted
    ]
    assert incidents(bursts, 1000.0, until=1100.0, settle_s=30) == [
        (1000.0, 1004.0, 2),
        (1050.0, 1051.0, 1),
    ]


def test_timestamps_from_either_database_are_epoch_seconds():
    at = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert epoch(at) == at.timestamp()
    assert epoch("2026-11-30 15:00:00") == at.timestamp()  # SQLite stores UTC text
    assert epoch(None) is None


def test_one_failing_request_cools_for_its_class_base_time_not_for_its_retries():
    first = Cooldown("groq", "unavailable", 100.0, 140.0)  # 10 s doubled by two retries
    assert overlong_cooldowns([first]) == [(first, 12.0)]
    assert overlong_cooldowns([Cooldown("groq", "unavailable", 100.0, 110.9)]) == []


def test_failures_in_flight_during_a_cooldown_do_not_raise_the_backoff():
    found = [
        Cooldown("groq", "unavailable", 100.0, 110.0),
        Cooldown("groq", "unavailable", 100.05, 120.05),  # a concurrent request's failure
    ]
    assert [c for c, _ in overlong_cooldowns(found)] == [found[1]]


def test_a_failure_after_the_cooldown_ended_may_double_it():
    found = [
        Cooldown("gemini", "invalid_response", 100.0, 110.0),
        Cooldown("gemini", "invalid_response", 111.0, 131.0),
        Cooldown("gemini", "invalid_response", 132.0, 172.0),
    ]
    assert overlong_cooldowns(found) == []


def test_timeouts_and_rate_limits_keep_their_own_times():
    assert overlong_cooldowns([Cooldown("groq", "timeout", 0.0, 30.0)]) == []
    assert len(overlong_cooldowns([Cooldown("groq", "timeout", 0.0, 60.0)])) == 1
    assert overlong_cooldowns([Cooldown("groq", "rate_limit", 0.0, 2.0)]) == []
