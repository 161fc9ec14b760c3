"""What operators read for the plain values the engine stores: an escalation's reason, the
kinds of its timeline, a tally. The core keeps English facts; the pages word them per locale."""

import re

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

EVENT_KINDS = {
    "opened": gettext_lazy("opened"),
    "failure": gettext_lazy("failure"),
    "recovered": gettext_lazy("recovered"),
    "resolved": gettext_lazy("resolved"),
}
# The reasons core/escalation.py writes, as it writes them.
_REPEATED = re.compile(
    r"^(?P<provider>\S+) failed with (?P<kind>\S+) (?P<n>\d+) times in (?P<s>[\d.]+)s$"
)
_RATE = re.compile(r"^(?P<n>\d+) failures in (?P<s>[\d.]+)s$")


def reason_label(reason: str) -> str:
    """The stored reason in the reader's language (unknown wordings are shown as stored)."""
    if reason == "every provider failed the request":
        return _("every provider failed the request")
    if m := _REPEATED.match(reason):
        return _("%(provider)s failed with %(kind)s %(n)s times in %(s)s s") % m.groupdict()
    if m := _RATE.match(reason):
        return _("%(n)s failures in %(s)s s") % m.groupdict()
    return reason


def tally_label(yes, no, abstain) -> str:
    """yes 2 · no 0 · abstain 1, in the reader's words and number format."""
    figures = {
        k: number_format(float(v), decimal_pos=None)
        for k, v in {"yes": yes, "no": no, "abstain": abstain}.items()
    }
    figures = {k: v[:-2] if v.endswith((".0", ",0")) else v for k, v in figures.items()}
    return _("yes %(yes)s · no %(no)s · abstain %(abstain)s") % figures
