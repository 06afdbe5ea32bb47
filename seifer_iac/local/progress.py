"""The readiness display: one line per process, redrawn in place on a terminal, only changes elsewhere."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Protocol


class Row(Protocol):
    name: str
    phase: str
    pid: int | None
    restarts: int


class Progress:
    """One line per process: redrawn in place on a terminal, only changed lines elsewhere (CI logs)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.drawn = 0
        self.last: dict[str, str] = {}

    def _lines(self, snapshot: Iterable[Row]) -> list[tuple[str, str]]:
        rows = list(snapshot)
        width = max((len(s.name) for s in rows), default=0)
        return [
            (
                s.name,
                f"  {s.name:<{width}}  {s.phase:<10}  pid {s.pid or '-':<7}  restarts {s.restarts}"
                + (f"  OOMKilled {kills}" if (kills := getattr(s, "oom_kills", 0)) else ""),
            )
            for s in rows
        ]

    def show(self, snapshot: Iterable[Row]) -> None:
        lines = self._lines(snapshot)
        if self.tty:
            if self.drawn:
                self.out.write(f"\x1b[{self.drawn}F")
            for _, text in lines:
                self.out.write(f"\x1b[2K{text}\n")
            self.drawn = len(lines)
        else:
            for name, text in lines:
                if self.last.get(name) != text:
                    self.out.write(text + "\n")
                    self.last[name] = text
        self.out.flush()

    def done(self) -> None:
        self.out.flush()
