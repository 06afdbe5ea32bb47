"""Which transfers run together, and how long probing takes: pure functions over node names and rates.

Probing n nodes is n(n-1) directed transfers. Two transfers that share a node would share its radio or port
and measure each other, so each round lets every node take part in at most one transfer (a matching). A
round-robin tournament (the circle method) pairs every two nodes once in n-1 rounds (n even; n rounds with
a bye when n is odd); running it twice, once each way, gives every directed pair exactly once in 2(n-1)
rounds (2n for odd n), which is optimal: a round holds at most floor(n/2) transfers. A subset (`--pairs`)
is placed first-fit in the tournament's order, so it never needs more rounds than the tournament, nor more
than 2d-1 for a node taking part in at most d of its transfers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

Pair = tuple[str, str]
PAYLOAD_SHARE = 0.95  # TCP payload per byte on the wire (1448 of 1514): what a probe of a link of rate r sees
TRANSFER_OVERHEAD_S = 1.0  # starting the probe process and connecting, per transfer (a stated guess)


class PairsError(ValueError):
    """A `--pairs` text the probe cannot use; the message names the pair and what to do."""


def all_pairs(nodes: Sequence[str]) -> tuple[Pair, ...]:
    """Every directed pair of distinct nodes, in the nodes' order."""
    return tuple((a, b) for a in nodes for b in nodes if a != b)


def parse_pairs(text: str, nodes: Sequence[str]) -> tuple[Pair, ...]:
    """`a:b,c:d` -> directed pairs (repeats dropped, order kept); unknown nodes and self-pairs are errors."""
    known = set(nodes)
    pairs: dict[Pair, None] = {}  # ordered; a repeat is found in constant time (a list: 200k pairs, 20 s)
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        shown = repr(item) if len(item) <= 80 else repr(item[:60]) + f"... ({len(item):,} characters)"
        source, sep, target = item.partition(":")
        source, target = source.strip(), target.strip()
        if not sep or not source or not target:
            raise PairsError(f"--pairs: {shown} is not FROM:TO (e.g. pi-1:pi-2)")
        for name in (source, target):
            if name not in known:
                listed = ", ".join(nodes[:12]) + (f", ... ({len(nodes)} nodes)" if len(nodes) > 12 else "")
                raise PairsError(f"--pairs: {shown}: no node {name[:60]!r} in the spec ({listed})")
        if source == target:
            raise PairsError(f"--pairs: {shown}: a node needs no probe to itself")
        pairs[(source, target)] = None
    if not pairs:
        raise PairsError("--pairs: no pair given; write FROM:TO[,FROM:TO...]")
    return tuple(pairs)


def tournament(nodes: Sequence[str]) -> tuple[tuple[Pair, ...], ...]:
    """Rounds of the circle method, both ways: every directed pair once, each node once per round at most."""
    ring: list[str | None] = list(nodes)
    if len(ring) % 2:
        ring.append(None)  # the bye
    size = len(ring)
    forward: list[tuple[Pair, ...]] = []
    for _ in range(size - 1):
        pairs = []
        for i in range(size // 2):
            a, b = ring[i], ring[size - 1 - i]
            if a is not None and b is not None:
                pairs.append((a, b))
        forward.append(tuple(pairs))
        ring = [ring[0], ring[-1], *ring[1:-1]]
    backward = [tuple((b, a) for a, b in pairs) for pairs in forward]
    return tuple(r for r in (*forward, *backward) if r)


def schedule(nodes: Sequence[str], pairs: Iterable[Pair] | None = None) -> tuple[tuple[Pair, ...], ...]:
    """The requested pairs (default: all) in rounds where no node takes part twice.

    First-fit in the tournament's order: the whole set gives exactly the tournament; a subset never needs
    more rounds than the tournament, nor more than 2d-1 (d: the most transfers one node takes part in).
    """
    wanted = list(dict.fromkeys(all_pairs(nodes) if pairs is None else pairs))
    order = {pair: index for index, pair in enumerate(p for r in tournament(nodes) for p in r)}
    unknown = [p for p in wanted if p not in order]
    if unknown:
        raise PairsError(f"pairs of unknown or equal nodes: {unknown[:3]}")
    rounds: list[list[Pair]] = []
    busy: list[set[str]] = []
    for pair in sorted(wanted, key=order.__getitem__):
        for index, taken in enumerate(busy):
            if pair[0] not in taken and pair[1] not in taken:
                rounds[index].append(pair)
                taken.update(pair)
                break
        else:
            rounds.append([pair])
            busy.append(set(pair))
    return tuple(tuple(r) for r in rounds)


def link_timeout_s(bits_per_s: float, size: int) -> float:
    """How long one transfer may take (the probe's `--timeout`): five times its time at the link's payload
    rate, and 10 s more; 30 s where there is no rate (a link the emulator does not build fails at once)."""
    if not (0 < bits_per_s < math.inf):
        return 30.0
    return 10.0 + 5 * size * 8 / (bits_per_s * 0.9)


@dataclass(frozen=True)
class Estimate:
    """How long a schedule takes, from the rates the spec gives (and a stated rate where it gives none)."""

    seconds: float
    rounds: int
    transfers: int
    assumed: tuple[Pair, ...]  # pairs the spec gives no bandwidth for
    assumed_bits_per_s: float

    def describe(self, assumption: str | None = None) -> str:
        """One line; `assumption` replaces the default note on the pairs the spec gives no rate for."""
        text = (
            f"{self.transfers} transfers in {self.rounds} rounds (each node in one transfer at a time): "
            f"about {_duration(self.seconds)}"
        )
        if self.assumed:
            text += f"; {len(self.assumed)} pairs have no bandwidth in the spec, " + (
                assumption or f"counted at {self.assumed_bits_per_s / 1e6:g} Mbit/s"
            )
        return text


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def transfer_seconds(
    bits_per_s: float, size: int, repeats: int, overhead_s: float = TRANSFER_OVERHEAD_S
) -> float:
    """One link probe: `repeats` transfers of `size` bytes at the payload share of the rate, plus overhead."""
    return overhead_s + repeats * size * 8 / (bits_per_s * PAYLOAD_SHARE)


def estimate(
    rounds: Sequence[Sequence[Pair]],
    bandwidth: Callable[[str, str], float],
    size: int,
    repeats: int,
    *,
    assumed_bits_per_s: float,
    overhead_s: float = TRANSFER_OVERHEAD_S,
) -> Estimate:
    """Sum over rounds of the round's slowest transfer; a pair whose `bandwidth` is 0 (the spec gives none)
    or not finite is counted at `assumed_bits_per_s`."""
    if assumed_bits_per_s <= 0:
        raise ValueError("the assumed rate must be positive")
    assumed: list[Pair] = []
    total = 0.0
    for pairs in rounds:
        slowest = 0.0
        for pair in pairs:
            rate = bandwidth(*pair)
            if not (0 < rate < math.inf):
                assumed.append(pair)
                rate = assumed_bits_per_s
            slowest = max(slowest, transfer_seconds(rate, size, repeats, overhead_s))
        total += slowest
    return Estimate(total, len(rounds), sum(len(r) for r in rounds), tuple(assumed), assumed_bits_per_s)
