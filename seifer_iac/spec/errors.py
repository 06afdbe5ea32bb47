"""Spec problems: each names the field (`cluster.nodes[2].memory`) and says what to do."""

from __future__ import annotations

from collections.abc import Iterable


class SpecError(Exception):
    """Everything wrong with a spec, one line per problem, so a user fixes them all in one pass."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = [_one_line(p) for p in problems]
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))


def field_path(parts: Iterable[object]) -> str:
    """['cluster', 'nodes', 2, 'memory'] -> 'cluster.nodes[2].memory'."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


MAX_PROBLEM_CHARACTERS = 400


def _one_line(problem: str) -> str:
    """A problem as one line of bounded length, whatever value it quotes."""
    line = " ".join(problem.split("\n"))
    if len(line) <= MAX_PROBLEM_CHARACTERS:
        return line
    return line[: MAX_PROBLEM_CHARACTERS - 3] + "..."
