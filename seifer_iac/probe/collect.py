"""Probe result lines -> a MeasuredCluster: medians, spreads, and what is missing.

The lines come from `kubectl logs` (which may put a timestamp or `[pod/name/container] ` before each line)
or from local probe processes. Each line's JSON object is found after any such prefix; lines without one
are someone else's output and are ignored. A line that holds a JSON object but is not a valid result of
this pipeline's probe (wrong types, NaN, huge or negative numbers, unknown nodes, another backend) is
rejected and counted, with its source and line number, and never stops the others. Nothing here trusts
the input: every line is bounded in length and nesting before it is parsed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from seifer_iac.probe import schedule
from seifer_iac.spec.measured import (
    MeasuredCluster,
    MeasuredLink,
    MeasuredSpeed,
    UnmeasuredLink,
    UnmeasuredNode,
    Unreachable,
    utc_moment,
)
from seifer_iac.spec.model import Spec
from seifer_iac.spec.units import MAX_BITS_PER_S, MAX_FLOPS, MIN_BITS_PER_S, MIN_FLOPS, shown

PROBE_VERSION = 1
MAX_LINE_CHARACTERS = 64 * 1024  # a result line with 1,000 repeats is about 25 KB
MAX_BRACKETS = 16  # a result is one object holding one list; more brackets is not the probe's line
MAX_REPEATS = 1000
MAX_SAMPLES = 10_000  # per pair or node, over all its lines
MAX_BYTES = 2**40
MAX_ERROR_CHARACTERS = 300
MAX_PROBE_NODES = 100  # 9,900 directed pairs: more is not a probe run anyone waits for
# `kubectl logs --timestamps`: RFC 3339 with nanoseconds, before the line (after `--prefix`'s `[pod/...] `)
TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)\s*$")


class CollectError(ValueError):
    """Input that cannot be collected at all (no result in it, too many nodes); one line."""


@dataclass(frozen=True)
class Rejected:
    """A line that holds a JSON object but not a valid probe result."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: rejected: {self.reason}"


@dataclass(frozen=True)
class Collection:
    """What collecting found: the measured cluster, the results it used, the lines it rejected."""

    measured: MeasuredCluster
    results: int
    rejected: tuple[Rejected, ...]
    rejected_count: int
    ignored: int
    latest: dt.datetime | None = None  # the newest `kubectl logs --timestamps` time of a result line


@dataclass
class _Samples:
    """Per pair (or node): the repeats' times of every accepted line, and the last error reported."""

    seconds: list[float] = field(default_factory=list)
    size: float = 0.0  # bytes of a link transfer, FLOPs of a speed call
    error: str | None = None
    backend: str = ""
    precision: str = ""
    rejected: str | None = None


def probe_nodes(spec: Spec) -> tuple[str, ...]:
    """Nodes the runtime image runs on (a node of another architecture cannot run the probe)."""
    archs = set(spec.runtime.architectures)
    return tuple(n.name for n in spec.cluster.nodes if n.arch is None or n.arch in archs)


def all_pairs(spec: Spec) -> tuple[tuple[str, str], ...]:
    """Every directed pair of probe nodes, in spec order."""
    names = probe_nodes(spec)
    if len(names) > MAX_PROBE_NODES:
        raise CollectError(
            f"the spec has {len(names)} nodes; seifer probe measures at most {MAX_PROBE_NODES} at once "
            "(measure a subset with --pairs)"
        )
    return schedule.all_pairs(names)


def json_object(line: str) -> str | None:
    """The JSON object text of a log line after any prefix (timestamp, `[pod/...] `), or None."""
    start = line.find("{")
    if start < 0:
        return None
    return line[start:].strip()


def _refuse_constant(token: str) -> float:
    raise ValueError(f"{token} is not a number")


def _parse(text: str) -> Any:
    """Strict, bounded JSON: no NaN/Infinity, integers of at most 20 digits, at most MAX_BRACKETS."""
    if len(text) > MAX_LINE_CHARACTERS:
        raise ValueError(f"longer than {MAX_LINE_CHARACTERS:,} characters")
    if text.count("{") + text.count("[") > MAX_BRACKETS:
        raise ValueError("nested or repeated more than a probe result is")

    def bounded_int(token: str) -> int:
        if len(token.lstrip("-")) > 20:
            raise ValueError("an integer of more than 20 digits")
        return int(token)

    return json.loads(text, parse_constant=_refuse_constant, parse_int=bounded_int)


def _number(value: object) -> float | None:
    """A finite JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: object, what: str, limit: int = 253) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ValueError(f"{what} must be a non-empty string of at most {limit} characters")
    return value


def _seconds(result: dict[str, Any]) -> list[float]:
    raw = result.get("seconds")
    if not isinstance(raw, list) or len(raw) > MAX_REPEATS:
        raise ValueError(f"seconds must be a list of at most {MAX_REPEATS} times")
    times = [_number(value) for value in raw]
    if any(t is None or not 0 < t <= 86_400 for t in times):
        raise ValueError("seconds must hold positive numbers of at most a day")
    return [t for t in times if t is not None]


# The probe's errors that mean the sender found no path to the receiver (runtime.probe.connect). Any other
# error came after connecting (a transfer timed out or was reset on a slow or lossy link, bad arguments):
# the pair has a link, so it is unmeasured; reporting it unreachable would remove the link from the spec.
NO_PATH_ERRORS = ("cannot connect to ", "no route to ")


def _no_path(error: str) -> bool:
    return error.startswith(NO_PATH_ERRORS)


def _error(result: dict[str, Any]) -> str | None:
    error = result.get("error")
    if error is None:
        return None
    if not isinstance(error, str):
        raise ValueError("error must be a string or null")
    line = " ".join(error.split()) or "failed without a message"
    return line if len(line) <= MAX_ERROR_CHARACTERS else line[: MAX_ERROR_CHARACTERS - 3] + "..."


def _optional_rate(result: dict[str, Any], key: str) -> None:
    """The probe's own median is not used (it is recomputed from the times) but must be well formed."""
    value = result.get(key)
    if value is not None and (_number(value) is None or not _number(value) > 0):  # type: ignore[operator]
        raise ValueError(f"{key} must be a positive number or null")


class _Gatherer:
    def __init__(self, spec: Spec, pairs: tuple[tuple[str, str], ...]) -> None:
        self.spec = spec
        self.pairs = pairs
        self.nodes = set(probe_nodes(spec))
        self.links: dict[tuple[str, str], _Samples] = {}
        self.speeds: dict[str, _Samples] = {}
        self.seen: set[str] = set()
        self.rejected: list[Rejected] = []
        self.rejected_count = 0
        self.results = 0
        self.ignored = 0
        self.latest: dt.datetime | None = None

    def line(self, source: str, number: int, line: str) -> None:
        text = json_object(line)
        if text is None:
            self.ignored += 1
            return
        try:
            result = _parse(text)
        except (ValueError, RecursionError) as error:
            if '"seiferProbe"' in text[:MAX_LINE_CHARACTERS]:
                self.reject(source, number, f"not valid JSON ({str(error).splitlines()[0][:120]})")
            else:
                self.ignored += 1  # braces in someone else's log line
            return
        if not isinstance(result, dict) or "seiferProbe" not in result:
            self.ignored += 1
            return
        if text in self.seen:  # the same line twice (logs collected twice): counted once
            self.ignored += 1
            return
        try:
            self.accept(result)
        except ValueError as error:
            said = result.get("error")  # a probe given bad arguments says why only here
            why = f"; the probe said: {' '.join(said.split())[:150]}" if isinstance(said, str) else ""
            self.reject(source, number, f"{error}{why}")
            return
        if len(self.seen) < 100_000:
            self.seen.add(text)
        self.results += 1
        self.note_time(line[: line.find("{")])

    def note_time(self, prefix: str) -> None:
        match = TIMESTAMP.search(prefix[-64:])
        if match is None:
            return
        try:
            moment = utc_moment(match.group(1) + match.group(2))
        except ValueError:  # not a date, or one UTC cannot hold (the file could not be written)
            return
        if self.latest is None or moment > self.latest:
            self.latest = moment

    def reject(self, source: str, number: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < 1000:
            self.rejected.append(Rejected(source, number, reason))

    def node(self, value: object, what: str) -> str:
        name = _text(value, what)
        if name not in self.nodes:
            raise ValueError(f'{what} "{shown(name, 60)}" is not a node of the spec the probe runs on')
        return name

    def accept(self, result: dict[str, Any]) -> None:
        version = result["seiferProbe"]
        if isinstance(version, bool) or version != PROBE_VERSION:
            raise ValueError(
                f"seiferProbe must be {PROBE_VERSION} (this seifer reads version {PROBE_VERSION})"
            )
        kind = result.get("kind")
        if kind == "link":
            self.link(result)
        elif kind == "speed":
            self.speed(result)
        else:
            raise ValueError('kind must be "link" or "speed"')

    def link(self, result: dict[str, Any]) -> None:
        source = self.node(result.get("from"), "from")
        target = self.node(result.get("to"), "to")
        if source == target:
            raise ValueError("from and to are the same node")
        size = result.get("bytes")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_BYTES:
            raise ValueError(f"bytes must be a whole number from 1 to {MAX_BYTES}")
        seconds = _seconds(result)
        error = _error(result)
        _optional_rate(result, "bitsPerSecond")
        if error is None and not seconds:
            raise ValueError("a result without an error needs seconds")
        for s in seconds:
            if not MIN_BITS_PER_S <= size * 8 / s <= MAX_BITS_PER_S:
                raise ValueError("a transfer rate outside 1 bps .. 1 Pbps")
        self.add(self.links.setdefault((source, target), _Samples()), seconds, float(size), error)

    def speed(self, result: dict[str, Any]) -> None:
        node = self.node(result.get("node"), "node")
        error = _error(result)
        seconds = _seconds(result)
        _optional_rate(result, "flopsPerSecond")
        samples = self.speeds.setdefault(node, _Samples())
        if error is not None:  # a probe that failed early knows no backend or FLOPs yet: null is fine
            if seconds:
                raise ValueError("a result with an error has no seconds")
            self.add(samples, [], 0.0, error)
            return
        backend = _text(result.get("backend"), "backend", 32)
        precision = _text(result.get("precision", "fp32"), "precision", 32)
        runtime = self.spec.runtime
        if (backend, precision) != (runtime.backend, runtime.precision):
            raise ValueError(
                f"measured with {backend} {precision} but the spec runs {runtime.backend} {runtime.precision}"
            )
        flops = _number(result.get("flops"))
        if flops is None or not flops > 0:
            raise ValueError("flops must be a positive number")
        if not seconds:
            raise ValueError("a result without an error needs seconds")
        for s in seconds:
            if not MIN_FLOPS <= flops / s <= MAX_FLOPS:
                raise ValueError("a speed outside 1 FLOP/s .. 1 EFLOP/s")
        samples.backend, samples.precision = backend, precision
        self.add(samples, seconds, flops, error)

    @staticmethod
    def add(samples: _Samples, seconds: list[float], size: float, error: str | None) -> None:
        """Repeats of lines for one pair pool their times (a re-run adds samples), all of one size."""
        if samples.seconds and seconds and samples.size != size:
            raise ValueError("a second result for this pair with another size; collect one run at a time")
        if error is not None:
            samples.error = error
            return
        if len(samples.seconds) + len(seconds) > MAX_SAMPLES:
            raise ValueError(f"more than {MAX_SAMPLES} repeats for one pair or node")
        samples.size = size
        samples.seconds.extend(seconds)

    def measured(self, measured_at: dt.datetime) -> MeasuredCluster:
        links, unreachable, unmeasured_links = [], [], []
        for pair in self.pairs:
            samples = self.links.get(pair)
            if samples is not None and samples.seconds:
                rates = sorted(samples.size * 8 / s for s in samples.seconds)
                links.append(
                    MeasuredLink(
                        *pair, statistics.median(rates), rates[0], rates[-1], len(rates), int(samples.size)
                    )
                )
            elif samples is not None and samples.error is not None and _no_path(samples.error):
                unreachable.append(Unreachable(*pair, samples.error))
            else:  # never reported, or failed after connecting: the link exists, its rate is unknown
                why = samples.error if samples is not None and samples.error else "no result"
                unmeasured_links.append(UnmeasuredLink(*pair, why))
        archs = ", ".join(self.spec.runtime.platforms)
        for a in self.spec.cluster.nodes:
            if a.name not in self.nodes:
                for b in self.spec.cluster.node_names:
                    if b != a.name:
                        reason = f"{a.name} is {a.arch}: runtime.platforms ({archs}) has no image for it"
                        unmeasured_links += [
                            UnmeasuredLink(a.name, b, reason),
                            UnmeasuredLink(b, a.name, reason),
                        ]
        speeds, unmeasured_nodes = [], []
        for node in self.spec.cluster.nodes:
            samples = self.speeds.get(node.name)
            if node.name not in self.nodes:
                unmeasured_nodes.append(
                    UnmeasuredNode(node.name, f"{node.arch}: runtime.platforms ({archs}) has no image for it")
                )
            elif samples is not None and samples.seconds:
                rates = sorted(samples.size / s for s in samples.seconds)
                speeds.append(
                    MeasuredSpeed(
                        node=node.name,
                        flops_per_s=statistics.median(rates),
                        min_flops_per_s=rates[0],
                        max_flops_per_s=rates[-1],
                        repeats=len(rates),
                        backend=samples.backend,
                        precision=samples.precision,
                        absolute=node.speed_absolute,
                    )
                )
            elif samples is not None and samples.error is not None:
                unmeasured_nodes.append(UnmeasuredNode(node.name, samples.error))
            else:
                unmeasured_nodes.append(UnmeasuredNode(node.name, "no result"))
        return MeasuredCluster(
            measured_at=measured_at,
            reference_flops_per_s=self.spec.planner.reference_flops_per_s,
            links=tuple(links),
            speeds=tuple(speeds),
            unreachable=tuple(unreachable),
            unmeasured_links=tuple(sorted(set(unmeasured_links), key=lambda u: (u.source, u.target))),
            unmeasured_nodes=tuple(unmeasured_nodes),
        )


def gather(
    sources: Iterable[tuple[str, Iterable[str]]],
    spec: Spec,
    measured_at: dt.datetime,
    pairs: Iterable[tuple[str, str]] | None = None,
) -> Collection:
    """Collect the lines of several named sources (files, stdin); pairs: the directed pairs expected
    (every pair of probe nodes by default), the others are not reported missing."""
    if measured_at.tzinfo is None:
        raise ValueError("measured_at must carry a time zone (datetime.now(timezone.utc))")
    expected = all_pairs(spec) if pairs is None else tuple(pairs)
    gatherer = _Gatherer(spec, expected)
    for source, lines in sources:
        for number, line in enumerate(lines, start=1):
            gatherer.line(source, number, line)
    return Collection(
        measured=gatherer.measured(measured_at),
        results=gatherer.results,
        rejected=tuple(gatherer.rejected),
        rejected_count=gatherer.rejected_count,
        ignored=gatherer.ignored,
        latest=gatherer.latest,
    )


def collect(
    lines: Iterable[str],
    spec: Spec,
    measured_at: dt.datetime,
    pairs: Iterable[tuple[str, str]] | None = None,
) -> MeasuredCluster:
    """The measured cluster of one stream of lines (rejected lines are skipped: use gather() to see them)."""
    return gather([("<lines>", lines)], spec, measured_at, pairs).measured
