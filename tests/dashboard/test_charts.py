import pytest

from llmfallback.dashboard.charts import line_chart, nice_max, stacked_bar_chart


def test_nice_max_rounds_up_to_1_2_5():
    assert [nice_max(v) for v in (0, 0.3, 1, 3, 7, 12, 180, 501)] == [
        1,
        0.5,
        1,
        5,
        10,
        20,
        200,
        1000,
    ]


def test_line_chart_draws_one_polyline_per_series_and_skips_gaps():
    chart = line_chart(
        "Requests", "requests", ["a", "b", "c"], {"groq": [1, None, 4], "gemini": [0, 0, 0]}
    )
    assert [line["name"] for line in chart.lines] == ["groq", "gemini"]
    assert len(chart.lines[0]["dots"]) == 2
    assert not chart.empty
    assert "groq max 4" in chart.summary


def test_stacked_bars_stack_series_and_report_totals():
    chart = stacked_bar_chart(
        "Failures", "failures", ["a", "b"], {"rate_limit": [2, 0], "timeout": [1, 3]}
    )
    assert {(b["label"]) for b in chart.bars} == {"a rate_limit: 2", "a timeout: 1", "b timeout: 3"}
    first_slot = [b for b in chart.bars if b["label"].startswith("a ")]
    assert first_slot[1]["y"] + first_slot[1]["h"] == pytest.approx(
        first_slot[0]["y"], abs=0.2
    )  # stacked
    assert [item["total"] for item in chart.legend] == ["2", "4"]


def test_legends_say_what_their_number_is_and_show_no_peak_without_data():
    chart = line_chart(
        "Latency", "ms", ["a", "b"], {"groq": [3.5, 7], "gemini": [None, None]}, "highest"
    )
    assert [item["total"] for item in chart.legend] == ["7", "—"]
    assert chart.legend_label == "highest"
    assert "groq highest 7 ms" in chart.summary
    bars = stacked_bar_chart("Failures", "failures", ["a"], {"timeout": [2]}, "total")
    assert bars.summary == "timeout total 2 failures"


def test_an_empty_chart_says_so():
    assert line_chart("Latency", "ms", ["a"], {"groq": [None]}).empty
    assert stacked_bar_chart("Failures", "failures", ["a"], {}).empty


def test_counts_are_pluralised_by_their_figure():
    def unit(n):
        return "request" if n == 1 else "requests"

    chart = line_chart("Requests", unit, ["a", "b"], {"groq": [1, 0], "gemini": [3, 2]})
    assert [(i["total"], i["unit"]) for i in chart.legend] == [("1", "request"), ("3", "requests")]


def test_count_axes_have_whole_numbers_only():
    bars = stacked_bar_chart("Failures", "failures", ["a"], {"timeout": [1]})
    assert [t["label"] for t in bars.ticks] == ["0", "1"]  # no "0.5" failures
    lines = line_chart("Requests", "requests", ["a"], {"groq": [1]}, integer=True)
    assert [t["label"] for t in lines.ticks] == ["0", "1"]
    latency = line_chart("p95", "ms", ["a"], {"groq": [1]})
    assert [t["label"] for t in latency.ticks] == ["0", "0.5", "1"]


def test_failure_colours_are_never_a_providers_colour():
    from llmfallback.dashboard.charts import FAILURE_PALETTE, PALETTE

    bars = stacked_bar_chart("F", "failures", ["a"], {f"c{i}": [1] for i in range(8)})
    assert {b["color"] for b in bars.bars} == set(FAILURE_PALETTE)
    assert not set(FAILURE_PALETTE) & set(PALETTE)


def test_figures_follow_the_readers_number_format():
    from django.utils import translation

    with translation.override("es"):
        chart = line_chart("p95", "ms", ["a"], {"groq": [2.34]})
    assert chart.legend[0]["total"] == "2,3"
