"""Restart and splice: relay only what a restarted answer adds to the text already sent.

A provider that cannot continue an assistant prefill is sent the original request again. Its new
answer is usable only if it begins with what the caller already has; whitespace may differ (one
tokenizer's "\\n\\n" is another's " "), so both are compared with whitespace runs collapsed.
"""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")


def normalised(text: str) -> str:
    """Whitespace runs as one space, no whitespace at either end."""
    return _SPACE.sub(" ", text).strip()


class Splicer:
    """Feed the restarted answer's text; learn whether it repeats `sent`, and what follows it."""

    def __init__(self, sent: str) -> None:
        self.want = normalised(sent)
        self.sent_ends_in_space = sent[-1:].isspace()
        self.buffer = ""
        self.matched: bool | None = None  # None: not decided yet

    def feed(self, text: str) -> str:
        """The part of `text` to relay: "" while undecided or after a mismatch."""
        if self.matched is False:
            return ""
        if self.matched:
            return text
        self.buffer += text
        have = normalised(self.buffer)
        if not self.want.startswith(have[: len(self.want)]):
            self.matched = False
            return ""
        if len(have) <= len(self.want):
            return ""  # not past the sent text yet (or exactly at its end: wait for more)
        self.matched = True
        return self._rest()

    def finish(self) -> str:
        """The restarted answer ended: what it adds, if it matched exactly to its end."""
        if self.matched is None and normalised(self.buffer) == self.want:
            self.matched = True
            return self._rest()
        return ""

    def _rest(self) -> str:
        """What follows the sent text in the buffer, raw (its own whitespace kept)."""
        cut = _end_of(self.buffer, len(self.want))
        rest = self.buffer[cut:]
        return rest.lstrip() if self.sent_ends_in_space else rest


def _end_of(text: str, length: int) -> int:
    """The index in `text` just past the part whose normalised form is `length` long."""
    seen, in_space = 0, True  # leading whitespace is dropped by normalised()
    for index, char in enumerate(text):
        if seen >= length:
            return index
        if char.isspace():
            if not in_space:
                in_space = True
                seen += 1  # a run of whitespace counts as one space
        else:
            in_space = False
            seen += 1
    return len(text)
