"""A stream paced over a latency (`spread_s`), as bench/capacity.py's streams are."""

from llmfallback.simulator import streams
from llmfallback.simulator.reply import Reply


def test_a_streams_events_are_paced_evenly_over_spread_s():
    reply = streams.spread(Reply(events=[b"a", b"b", b"c", b"d", b"e"]), 1.0)
    assert [e for e in reply.events if isinstance(e, bytes)] == [b"a", b"b", b"c", b"d", b"e"]
    pauses = [e for e in reply.events if isinstance(e, float)]
    assert pauses == [0.25] * 4 and isinstance(reply.events[0], bytes)


def test_a_plain_answer_or_no_spread_is_left_alone():
    assert streams.spread(Reply(body=b"{}"), 1.0).events is None
    assert streams.spread(Reply(events=[b"a", b"b"]), 0).events == [b"a", b"b"]
