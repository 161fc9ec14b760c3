from llmfallback.core.escalation import Decision, Thresholds, Trigger, suggest


def test_a_key_that_fails_auth_is_the_remedy_target_over_more_transient_failures():
    decision = Decision(Trigger.ALL_FAILED, "every provider failed the request", ())
    by_error = {("groq", "auth"): 1, ("deepseek", "unavailable"): 3}
    first = suggest(decision, by_error, Thresholds())[0]
    assert (first.name, first.args) == ("provider_disable", {"provider": "groq"})


def test_among_transient_failures_the_most_frequent_is_the_target():
    decision = Decision(Trigger.ALL_FAILED, "every provider failed the request", ())
    by_error = {("groq", "timeout"): 1, ("deepseek", "unavailable"): 3}
    first = suggest(decision, by_error, Thresholds())[0]
    assert (first.name, first.args) == ("provider_cooldown_reset", {"provider": "deepseek"})
