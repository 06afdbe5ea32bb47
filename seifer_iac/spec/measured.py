"""The measured-cluster file: what `seifer probe` found on the cluster, in the spec's own units.

A spec includes it (`cluster.measured: cluster.measured.yaml`), so a re-measure is an ordinary diff of a
committed file that `seifer plan --diff`, the plan lock and CI all see. The file says where each figure
came from (the median of how many repeats, and their spread) and what could not be measured: pairs whose
probe found no path (unreachable: the spec loses that link unless it gives it itself) and pairs or nodes
that never reported or failed after connecting (unmeasured: no effect on the spec, listed so nobody
mistakes silence for a result).

Rates are payload rates: what a process sees over TCP, about 94-96 % of a shaped link's raw rate.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from seifer_iac.spec.documents import (
    MAX_DEPTH,
    DocumentError,
    number_problems,
    read_yaml,
    too_deep,
)
from seifer_iac.spec.errors import SpecError, field_path
from seifer_iac.spec.schema_errors import describe
from seifer_iac.spec.units import UnitError, check_flops, parse_bandwidth, parse_flops, shown

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "measured-cluster.schema.json"
API_VERSION = "seifer.dev/v1alpha1"
KIND = "MeasuredCluster"
MAX_MEASURED_BYTES = 16 * 2**20
SIGNIFICANT_DIGITS = 4  # a measured rate wobbles by more than 0.1 %: more digits would only churn diffs
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class MeasuredLink:
    """One directed pair's payload rate: the median of `repeats` transfers of `bytes` each."""

    source: str
    target: str
    bits_per_s: float
    min_bits_per_s: float
    max_bits_per_s: float
    repeats: int
    bytes: int


@dataclass(frozen=True)
class MeasuredSpeed:
    """One node's speed on the model's own partitions with the spec's backend: profile FLOPs over time.
    `absolute` writes it in GFLOPS (as the spec writes that node's speed) instead of relative."""

    node: str
    flops_per_s: float
    min_flops_per_s: float
    max_flops_per_s: float
    repeats: int
    backend: str
    precision: str
    absolute: bool = False


@dataclass(frozen=True)
class Unreachable:
    """A pair whose probe found no path (could not connect, no route): the spec loses that link."""

    source: str
    target: str
    error: str


@dataclass(frozen=True)
class UnmeasuredLink:
    """A pair with no result (never reported, its line was rejected, or it failed after connecting, such as
    a transfer that timed out on a slow link): the spec keeps what it says."""

    source: str
    target: str
    reason: str


@dataclass(frozen=True)
class UnmeasuredNode:
    name: str
    reason: str


@dataclass(frozen=True)
class MeasuredCluster:
    """Everything one probe run found. `reference_flops_per_s` is what a relative speed 1.0 meant when it
    was measured (the spec's planner.referenceSpeed then), so relative speeds keep their meaning in FLOP/s
    even if the spec's reference changes later."""

    measured_at: dt.datetime
    reference_flops_per_s: float
    links: tuple[MeasuredLink, ...] = ()
    speeds: tuple[MeasuredSpeed, ...] = ()
    unreachable: tuple[Unreachable, ...] = ()
    unmeasured_links: tuple[UnmeasuredLink, ...] = ()
    unmeasured_nodes: tuple[UnmeasuredNode, ...] = ()

    def link(self, source: str, target: str) -> MeasuredLink | None:
        return next((lk for lk in self.links if (lk.source, lk.target) == (source, target)), None)

    def speed(self, node: str) -> MeasuredSpeed | None:
        return next((sp for sp in self.speeds if sp.node == node), None)


# ------------------------------------------------------------------------------------------ numbers


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """value rounded to a few significant digits (what the file keeps)."""
    return float(f"{value:.{digits}g}")


def _plain(value: float) -> str:
    """A rounded number without an exponent or trailing zeros: 12.35, 1000000, 0.0005."""
    text = format(Decimal(repr(significant(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_rate(bits_per_s: float) -> str:
    """A bandwidth as the spec writes one: 12.35Mbps, 940Kbps, 1.2Gbps."""
    for unit, size in (("Gbps", 1e9), ("Mbps", 1e6), ("Kbps", 1e3)):
        if significant(bits_per_s) >= size:
            return f"{_plain(bits_per_s / size)}{unit}"
    return f"{_plain(bits_per_s)}bps"


def format_speed(flops_per_s: float, absolute: bool, reference: float) -> str | float:
    """A speed as the spec writes it: relative to the reference (a number) or absolute (GFLOPS)."""
    if absolute:
        return f"{_plain(flops_per_s / 1e9)}GFLOPS"
    return significant(flops_per_s / reference)


def utc_moment(value: str | dt.datetime) -> dt.datetime:
    """The moment in UTC (naive is taken as UTC); ValueError for text that is not an ISO 8601 date, or a
    moment UTC cannot hold (`9999-12-31T23:59:59-12:00` is past year 9999 in UTC, and would fail the dump).
    """
    if isinstance(value, dt.datetime):
        moment = value
    else:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    try:
        return moment.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ValueError(f"{value} is out of range in UTC") from None


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# -------------------------------------------------------------------------------------------- dump


def to_document(m: MeasuredCluster) -> dict[str, Any]:
    """The file's content as plain data (schemas/measured-cluster.schema.json), entries sorted."""
    ref = m.reference_flops_per_s
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "measuredAt": format_time(m.measured_at),
        "referenceSpeed": f"{_plain(ref / 1e9)}GFLOPS",
        "links": [
            {
                "from": lk.source,
                "to": lk.target,
                "bandwidth": format_rate(lk.bits_per_s),
                "min": format_rate(lk.min_bits_per_s),
                "max": format_rate(lk.max_bits_per_s),
                "repeats": lk.repeats,
                "bytes": lk.bytes,
            }
            for lk in sorted(m.links, key=lambda lk: (lk.source, lk.target))
        ],
        "nodes": [
            {
                "name": sp.node,
                "speed": format_speed(sp.flops_per_s, sp.absolute, ref),
                "min": format_speed(sp.min_flops_per_s, sp.absolute, ref),
                "max": format_speed(sp.max_flops_per_s, sp.absolute, ref),
                "repeats": sp.repeats,
                "backend": sp.backend,
                "precision": sp.precision,
            }
            for sp in sorted(m.speeds, key=lambda sp: sp.node)
        ],
        "unreachable": [
            {"from": u.source, "to": u.target, "error": u.error}
            for u in sorted(m.unreachable, key=lambda u: (u.source, u.target))
        ],
        "unmeasured": {
            "links": [
                {"from": u.source, "to": u.target, "reason": u.reason}
                for u in sorted(m.unmeasured_links, key=lambda u: (u.source, u.target))
            ],
            "nodes": [
                {"name": u.name, "reason": u.reason} for u in sorted(m.unmeasured_nodes, key=lambda u: u.name)
            ],
        },
    }
    return doc


HEADER = (
    "# Measured by seifer probe: payload rates (what the runtime sees over TCP) and node speeds on the\n"
    "# model's own partitions. Include it from the spec with cluster.measured; the spec's own values win.\n"
)


def dump_measured(m: MeasuredCluster) -> str:
    """The measured-cluster file as YAML: the same value gives the same bytes."""
    body = yaml.safe_dump(
        to_document(m), sort_keys=False, default_flow_style=None, width=10_000, allow_unicode=True
    )
    return HEADER + body


# -------------------------------------------------------------------------------------------- load


def load_measured(path: str | Path, spec_path: str | Path | None = None) -> MeasuredCluster:
    """The measured-cluster file at path (relative to the spec's folder when spec_path is given);
    SpecError naming the file and each field otherwise."""
    path = Path(path)
    if spec_path is not None and not path.is_absolute():
        path = Path(spec_path).parent / path
    return read_measured(path)


def read_measured(path: Path) -> MeasuredCluster:
    source = str(path)
    try:
        data = read_yaml(path, "a measured-cluster file (seifer probe collect --out)", MAX_MEASURED_BYTES)
    except DocumentError as error:
        raise SpecError(error.source, [error.problem]) from None
    return measured_from_data(data, source)


def _problems(data: Any) -> list[str]:
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        return [f"(top level): expected a mapping made by seifer probe collect, got {kind}"]
    deep = too_deep(data, MAX_DEPTH)
    if deep is not None:
        return [f"{deep}: nested more than {MAX_DEPTH} levels deep; re-run seifer probe collect"]
    if isinstance(data.get("measuredAt"), dt.datetime):  # YAML reads an unquoted timestamp as a date
        try:
            data = {**data, "measuredAt": format_time(utc_moment(data["measuredAt"]))}
        except ValueError as error:
            return [f"measuredAt: {error}; write a date like 2026-11-30T16:00:00Z"]
    problems = number_problems(data, limit=MAX_PROBLEMS)
    if problems:
        return problems
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    found = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        line = f"{field_path(error.absolute_path)}: {describe(error)}"
        if line not in found:
            found.append(line)
    return found[:MAX_PROBLEMS]


def measured_from_data(data: Any, source: str) -> MeasuredCluster:
    """The checked value of a parsed measured-cluster document; SpecError(source, problems) otherwise."""
    problems = _problems(data)
    if problems:
        raise SpecError(source, problems)
    reader = _Reader()
    measured = reader.read(data)
    if reader.problems:
        raise SpecError(source, reader.problems[:MAX_PROBLEMS])
    return measured


class _Reader:
    """Converts a schema-valid document into values, collecting every problem a schema cannot see."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def unit(self, parse: Any, value: object, where: str) -> float:
        try:
            return float(parse(value))
        except UnitError as error:
            self.problems.append(f"{where}: {error}")
            return 1.0

    def read(self, data: dict[str, Any]) -> MeasuredCluster:
        moment = data["measuredAt"]
        try:
            when = utc_moment(moment)
        except ValueError:
            self.problems.append(f'measuredAt: "{shown(moment)}" is not a date like 2026-11-30T16:00:00Z')
            when = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        reference = self.unit(parse_flops, data["referenceSpeed"], "referenceSpeed")
        links = tuple(self.link(raw, f"links[{i}]") for i, raw in enumerate(data.get("links", [])))
        speeds = tuple(
            self.speed(raw, f"nodes[{i}]", reference) for i, raw in enumerate(data.get("nodes", []))
        )
        unreachable = tuple(
            Unreachable(raw["from"], raw["to"], raw["error"]) for raw in data.get("unreachable", [])
        )
        unmeasured = data.get("unmeasured", {})
        unmeasured_links = tuple(
            UnmeasuredLink(raw["from"], raw["to"], raw["reason"]) for raw in unmeasured.get("links", [])
        )
        unmeasured_nodes = tuple(
            UnmeasuredNode(raw["name"], raw["reason"]) for raw in unmeasured.get("nodes", [])
        )
        self.check_pairs(data)
        return MeasuredCluster(
            measured_at=when,
            reference_flops_per_s=reference,
            links=links,
            speeds=speeds,
            unreachable=unreachable,
            unmeasured_links=unmeasured_links,
            unmeasured_nodes=unmeasured_nodes,
        )

    def link(self, raw: dict[str, Any], where: str) -> MeasuredLink:
        before = len(self.problems)
        median = self.unit(parse_bandwidth, raw["bandwidth"], f"{where}.bandwidth")
        low = self.unit(parse_bandwidth, raw.get("min", raw["bandwidth"]), f"{where}.min")
        high = self.unit(parse_bandwidth, raw.get("max", raw["bandwidth"]), f"{where}.max")
        if len(self.problems) == before and not low <= median <= high:  # one problem per bad value
            self.problems.append(
                f"{where}: min <= bandwidth <= max does not hold; re-run seifer probe collect"
            )
        return MeasuredLink(
            raw["from"], raw["to"], median, low, high, raw.get("repeats", 1), raw.get("bytes", 0)
        )

    def speed_value(self, value: object, where: str, reference: float) -> tuple[float, bool]:
        if isinstance(value, str):
            return self.unit(parse_flops, value, where), True
        return self.unit(lambda v: check_flops(float(v) * reference, v), value, where), False

    def speed(self, raw: dict[str, Any], where: str, reference: float) -> MeasuredSpeed:
        before = len(self.problems)
        median, absolute = self.speed_value(raw["speed"], f"{where}.speed", reference)
        low, low_abs = self.speed_value(raw.get("min", raw["speed"]), f"{where}.min", reference)
        high, high_abs = self.speed_value(raw.get("max", raw["speed"]), f"{where}.max", reference)
        if not absolute == low_abs == high_abs:
            self.problems.append(f"{where}: write speed, min and max alike (all relative or all in FLOPS)")
        elif len(self.problems) == before and not low <= median <= high:
            self.problems.append(f"{where}: min <= speed <= max does not hold; re-run seifer probe collect")
        return MeasuredSpeed(
            node=raw["name"],
            flops_per_s=median,
            min_flops_per_s=low,
            max_flops_per_s=high,
            repeats=raw.get("repeats", 1),
            backend=raw["backend"],
            precision=raw.get("precision", "fp32"),
            absolute=absolute,
        )

    def check_pairs(self, data: dict[str, Any]) -> None:
        """Each pair and node at most once across the file, and never from a node to itself."""
        seen: dict[tuple[str, str], str] = {}
        lists = [("links", data.get("links", [])), ("unreachable", data.get("unreachable", []))]
        lists.append(("unmeasured.links", data.get("unmeasured", {}).get("links", [])))
        for name, entries in lists:
            for i, raw in enumerate(entries):
                where = f"{name}[{i}]"
                key = (raw["from"], raw["to"])
                if key[0] == key[1]:
                    self.problems.append(f'{where}: a link from "{key[0]}" to itself; remove it')
                elif key in seen:
                    self.problems.append(
                        f"{where}: {key[0]} -> {key[1]} is already given by {seen[key]}; keep one"
                    )
                else:
                    seen[key] = where
        nodes: dict[str, str] = {}
        lists = [
            ("nodes", data.get("nodes", [])),
            ("unmeasured.nodes", data.get("unmeasured", {}).get("nodes", [])),
        ]
        for name, entries in lists:
            for i, raw in enumerate(entries):
                where = f"{name}[{i}]"
                if raw["name"] in nodes:
                    self.problems.append(
                        f'{where}: "{raw["name"]}" is already given by {nodes[raw["name"]]}; keep one'
                    )
                else:
                    nodes[raw["name"]] = where
