"""The probe's progress bar: a line per step in logs, redrawn in place on a terminal."""

from __future__ import annotations

import io

from seifer_iac.probe.bar import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_step_with_the_time_left() -> None:
    out = io.StringIO()
    bar = ProgressBar(out, 4, "probes", width=8)
    bar.step("a -> b", 30.0)
    bar.step("b -> a", 12.4, count=3)
    assert out.getvalue().splitlines() == [
        "[##......] 1/4 probes, about 30 s left  a -> b",
        "[########] 4/4 probes  b -> a",
    ]


def test_a_terminal_redraws_one_line_and_ends_it_when_done() -> None:
    out = Terminal()
    bar = ProgressBar(out, 2, "probes", width=4)
    bar.step()
    bar.step()
    bar.step()  # never past the total
    text = out.getvalue()
    assert text.count("\r\x1b[2K") == 3 and text.endswith("2/2 probes\n")
    assert "3/2" not in text
