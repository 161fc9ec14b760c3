import pytest

from llmfallback.charts import line_chart, nice_max, stacked_bar_chart


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
    assert [item["total"] for item in chart.legend] == [2, 4]


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
