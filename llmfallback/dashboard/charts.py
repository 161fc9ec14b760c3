"""Geometry for the dashboard's inline SVG charts: plain Python, drawn by templates/llmfallback/_chart.html."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.formats import number_format

WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 26
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
# Error classes get colours of their own (Paul Tol's "muted"), none of them a provider's: a
# failure bar the colour of a provider's line would read as that provider.
FAILURE_PALETTE = (
    "#882255",
    "#332288",
    "#DDCC77",
    "#117733",
    "#88CCEE",
    "#AA4499",
    "#44AA99",
    "#999933",
)
# A unit is a word, or a function of the figure for words that agree with it ("1 request").
Unit = str | Callable[[float], str]


@dataclass
class Chart:
    title: str
    unit: str
    kind: str  # "lines" or "bars"
    width: int = WIDTH
    height: int = HEIGHT
    legend: list[dict] = field(default_factory=list)  # {name, color, total}
    # What each legend figure is ("peak per minute", "total"): a bare number beside a name
    # reads as a total whatever it is.
    legend_label: str = ""
    lines: list[dict] = field(default_factory=list)  # {name, color, points}
    bars: list[dict] = field(default_factory=list)  # {x, y, w, h, color, label}
    ticks: list[dict] = field(default_factory=list)  # {y, label}
    xlabels: list[dict] = field(default_factory=list)  # {x, label}
    empty: bool = True
    summary: str = ""


def nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value:
        step /= 10
    for m in (1, 2, 5, 10):
        if m * step >= value:
            return m * step
    return 10 * step


def _x(i: int, n: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + span * (i + 0.5) / max(n, 1)


def _y(v: float, top: float) -> float:
    return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (v / top)


def _frame(chart: Chart, top: float, labels: list[str], integer: bool = False) -> None:
    """Grid lines at 0, half and the top; counts get whole-number lines only (no "0.5 requests")."""
    marks = [top * f for f in (0, 0.5, 1)]
    marks = [v for v in marks if not integer or v == int(v)]
    chart.ticks = [{"y": round(_y(v, top), 1), "label": _fmt(v)} for v in marks]
    every = max(1, len(labels) // 6)
    chart.xlabels = [
        {"x": round(_x(i, len(labels)), 1), "label": label}
        for i, label in enumerate(labels)
        if i % every == 0
    ]


def _fmt(v: float) -> str:
    """A figure in the reader's number format: 2.5 in English, 2,5 in Spanish."""
    places = 0 if v >= 10 or v == int(v) else 1
    return number_format(round(v, places), places, use_l10n=True)  # it cuts: round first


def _unit(unit: Unit, value) -> str:
    return unit(value) if callable(unit) else unit


def line_chart(
    title: str,
    unit: Unit,
    labels: list[str],
    series: dict[str, list],
    legend_label: str = "",
    integer: bool = False,
) -> Chart:
    """One polyline per series, its legend figure the series' peak; None values are skipped."""
    chart = Chart(title=title, unit=_unit(unit, 2), kind="lines", legend_label=legend_label)
    values = [v for vs in series.values() for v in vs if v is not None]
    top = nice_max(max(values, default=0))
    _frame(chart, top, labels, integer)
    for color, (name, vs) in zip(_colors(), series.items(), strict=False):
        dots = [
            (round(_x(i, len(labels)), 1), round(_y(v, top), 1))
            for i, v in enumerate(vs)
            if v is not None
        ]
        points = " ".join(f"{x},{y}" for x, y in dots)
        chart.lines.append({"name": name, "color": color, "points": points, "dots": dots})
        peak = max((v for v in vs if v is not None), default=None)
        # No data is "—", not a peak of 0 (a latency of 0 ms would be a false figure).
        chart.legend.append(
            {
                "name": name,
                "color": color,
                "total": "—" if peak is None else _fmt(peak),
                "unit": "" if peak is None else _unit(unit, peak),
            }
        )
    chart.empty = not any(values)
    chart.summary = ", ".join(
        f"{item['name']} {legend_label or 'max'} {item['total']} {item['unit']}".strip()
        for item in chart.legend
    )
    return chart


def stacked_bar_chart(
    title: str, unit: Unit, labels: list[str], series: dict[str, list[int]], legend_label: str = ""
) -> Chart:
    """Bars per slot, stacked by series (e.g. failures by error class); legend figures are totals."""
    chart = Chart(title=title, unit=_unit(unit, 2), kind="bars", legend_label=legend_label)
    n = len(labels)
    totals = [sum(vs[i] for vs in series.values()) for i in range(n)]
    top = nice_max(max(totals, default=0))
    _frame(chart, top, labels, integer=True)
    width = max(1.0, (WIDTH - LEFT - RIGHT) / max(n, 1) * 0.8)
    base = [0] * n
    for color, (name, vs) in zip(_colors(FAILURE_PALETTE), series.items(), strict=False):
        for i, v in enumerate(vs):
            if v:
                y_top, y_bottom = _y(base[i] + v, top), _y(base[i], top)
                chart.bars.append(
                    {
                        "x": round(_x(i, n) - width / 2, 1),
                        "y": round(y_top, 1),
                        "w": round(width, 1),
                        "h": round(y_bottom - y_top, 1),
                        "color": color,
                        "label": f"{labels[i]} {name}: {v}",
                    }
                )
                base[i] += v
        total = sum(vs)
        chart.legend.append(
            {"name": name, "color": color, "total": _fmt(total), "unit": _unit(unit, total)}
        )
    chart.empty = not any(totals)
    chart.summary = ", ".join(
        f"{item['name']} {legend_label} {item['total']} {item['unit']}".replace("  ", " ")
        for item in chart.legend
    )
    return chart


def _colors(palette=PALETTE):
    while True:
        yield from palette
