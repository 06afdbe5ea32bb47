"""A one-line progress bar: redrawn in place on a terminal, a line per step elsewhere (CI logs)."""

from __future__ import annotations

from typing import IO


class ProgressBar:
    """`done / total` steps with the estimate of what is left; `step(label)` after each finished step."""

    def __init__(self, out: IO[str], total: int, what: str, width: int = 30) -> None:
        self.out = out
        self.total = max(total, 1)
        self.what = what
        self.width = width
        self.done = 0
        self.tty = bool(getattr(out, "isatty", lambda: False)())

    def line(self, label: str = "", left_s: float | None = None) -> str:
        filled = round(self.width * self.done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        left = f", about {left_s:.0f} s left" if left_s is not None and self.done < self.total else ""
        tail = f"  {label}" if label else ""
        return f"[{bar}] {self.done}/{self.total} {self.what}{left}{tail}"

    def step(self, label: str = "", left_s: float | None = None, count: int = 1) -> None:
        self.done = min(self.total, self.done + count)
        text = self.line(label, left_s)
        if self.tty:
            self.out.write("\r\x1b[2K" + text + ("\n" if self.done >= self.total else ""))
        else:
            self.out.write(text + "\n")
        self.out.flush()
