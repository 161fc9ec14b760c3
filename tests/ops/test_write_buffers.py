"""llmfallback.health.buffers.WriteBuffer: what a script flushes before it drops its database."""

from __future__ import annotations

import pytest

from llmfallback.health import buffers


@pytest.fixture(autouse=True)
def only_these_buffers(monkeypatch):
    """Buffers other tests started in this process are not these tests' to flush."""
    monkeypatch.setattr(buffers, "_started", [])


class Recorder(buffers.WriteBuffer):
    name = "test-recorder"

    def __init__(self) -> None:
        super().__init__(interval_s=3600.0)  # the thread never flushes during the test
        self.written: list[list] = []

    def write(self, items: list) -> None:
        self.written.append(items)


def test_flush_all_writes_what_every_started_buffer_holds_now():
    first, second, idle = Recorder(), Recorder(), Recorder()
    first.add("a")
    first.add("b")
    second.add("c")

    buffers.flush_all()

    assert first.written == [["a", "b"]]
    assert second.written == [["c"]]
    assert idle.written == []  # never started: nothing to write, no thread
    buffers.flush_all()  # nothing pending is nothing written
    assert first.written == [["a", "b"]] and second.written == [["c"]]


def test_one_failing_buffer_does_not_keep_the_others_unwritten_and_keeps_its_items():
    class Failing(Recorder):
        fail = True

        def write(self, items: list) -> None:
            if self.fail:
                raise OSError("the database is gone")
            super().write(items)

    buffer, other = Failing(), Recorder()
    buffer.add("kept")
    other.add("written")
    with pytest.raises(OSError):
        buffers.flush_all()
    assert other.written == [["written"]]
    buffer.fail = False
    buffers.flush_all()
    assert buffer.written == [["kept"]]
