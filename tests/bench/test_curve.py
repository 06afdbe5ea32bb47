"""The CURVE hop benchmark runs both modes on real sockets and reports them."""

from __future__ import annotations

from seifer_iac.bench.curve import CurveHopResult, measure, to_markdown


def test_both_modes_measured_and_reported() -> None:
    results = [measure(mode, repeat=3, stream=4, size=64 * 1024) for mode in ("none", "curve")]
    assert [r.mode for r in results] == ["none", "curve"]
    assert all(r.round_trip_ms > 0 and r.stream_mb_s > 0 for r in results)
    text = to_markdown(results)
    assert "| curve |" in text and "| none |" in text and "per 1 MiB hop" in text


def test_report_states_the_difference() -> None:
    text = to_markdown([CurveHopResult("none", 2.0, 200.0), CurveHopResult("curve", 10.0, 50.0)])
    assert "CURVE adds about 4.00 ms per 1 MiB hop" in text
