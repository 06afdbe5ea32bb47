"""Read a pipeline spec: parse, check against the schema, then check what a schema cannot say.

Every problem found is reported at once, each naming its field, so one `seifer validate` run tells a user
everything to fix.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
from collections import defaultdict, deque
from dataclasses import replace
from pathlib import Path
from typing import Any

from seifer_iac.spec.applications import KERAS_APPLICATIONS
from seifer_iac.spec.documents import (
    MAX_DEPTH,
    MAX_SPEC_BYTES,
    DocumentError,
    check_regular_file,
    number_problems,
    read_yaml,
    too_deep,
)
from seifer_iac.spec.errors import SpecError, field_path
from seifer_iac.spec.image import default_pull_policy, digest_problem
from seifer_iac.spec.measured import MeasuredCluster, read_measured
from seifer_iac.spec.model import (
    ZFP_MIN_BLOCK_BITS,
    ZFP_MIN_RATE,
    Cluster,
    Codec,
    Dispatcher,
    Link,
    ModelSource,
    Monitoring,
    Node,
    PlannerOptions,
    Runtime,
    Spec,
    WeightsOptions,
    zfp_min_rate,
)
from seifer_iac.spec.schema_errors import schema_problems
from seifer_iac.spec.units import (
    UnitError,
    check_flops,
    parse_bandwidth,
    parse_duration,
    parse_flops,
    parse_size,
)

# Ports the runtime claims (docs/CONTRACTS.md); the dispatcher's API port must not collide with them.
RESERVED_PORTS = range(5599, 5700)
RESERVED_HTTP_PORTS = range(8600, 8700)
MAX_NAME_LENGTH = 50  # "<name>-dispatcher" and "<name>-stage-NN" must stay within 63 characters
DEFAULT_ZFP_RATE = 16.0
DEFAULT_RATIO = {"none": 1.0, "lz4": 1.0, "zfp": 1.5}
MAX_PROBLEMS = 50
MAX_HINTS = 20  # "did you mean" costs a scan of every name: only for the first few problems
MAX_HINT_NAMES = 2000
MAX_TIME_BUDGET_S = 600.0  # the planner's search is bounded by work proportional to this
MAX_DEADLINE_S = 3600.0
MAX_INPUT_ELEMENTS = 2**28  # 1 GiB of float32 at batch size 1


def non_string_keys(data: Any, path: tuple[object, ...] = ()) -> list[str]:
    """Problems for mapping keys YAML did not read as text (`1:`, `yes:`, `2024-01-01:`)."""
    problems: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                problems.append(f'{field_path(path)}: key {key!r} is not text; quote it ("{key}")')
                continue
            problems += non_string_keys(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            problems += non_string_keys(value, (*path, index))
    return problems


def read_document(path: Path) -> Any:
    """The parsed YAML/JSON document, or SpecError for a missing, unreadable, oversized, too deeply nested
    or alias-bombed file, or bad syntax (seifer_iac.spec.documents)."""
    try:
        return read_yaml(path, "a pipeline spec (.yaml or .json)", MAX_SPEC_BYTES)
    except DocumentError as error:
        raise SpecError(error.source, [error.problem]) from None


def load_spec(path: str | Path, include_measured: bool = True, check_links: bool = True) -> Spec:
    """The validated Spec of a YAML or JSON file; SpecError lists every problem. For `seifer probe`, which
    measures the links and writes the measured-cluster file: `include_measured=False` leaves that file
    out, `check_links=False` skips the check that every node is reachable from the dispatcher's."""
    path = Path(path)
    data = read_document(path)
    return spec_from_data(
        data,
        source=str(path),
        base_dir=path.parent,
        include_measured=include_measured,
        check_links=check_links,
    )


def spec_from_data(
    data: Any,
    source: str = "<spec>",
    base_dir: Path | None = None,
    include_measured: bool = True,
    check_links: bool = True,
) -> Spec:
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise SpecError(
            source,
            [
                "(top level): expected a mapping with apiVersion, kind, metadata, model, cluster, dispatcher "
                f"and "
                f"runtime, got {kind}"
            ],
        )
    deep = too_deep(data)
    if deep is not None:
        raise SpecError(source, [f"{deep}: nested more than {MAX_DEPTH} levels deep; flatten it"])
    problems = non_string_keys(data) or number_problems(data) or schema_problems(data)
    if problems:
        raise SpecError(source, _capped(problems))
    builder = _Builder(data, base_dir or Path.cwd(), include_measured, check_links)
    spec = builder.build(source)
    if builder.problems:
        raise SpecError(source, _capped(builder.problems))
    return spec


def _capped(problems: list[str]) -> list[str]:
    """At most MAX_PROBLEMS lines: a spec of 5,000 broken nodes needs one screen, not 5,000 lines."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]


class _Builder:
    """Collects problems while it converts the checked document into values."""

    def __init__(
        self, data: dict[str, Any], base_dir: Path, include_measured: bool = True, check_links: bool = True
    ) -> None:
        self.data = data
        self.base_dir = base_dir
        self.include_measured = include_measured
        self.check_links = check_links
        self.problems: list[str] = []
        self.hints_left = MAX_HINTS
        self.bandwidth_unknown = False

    def bounded_duration(
        self, raw: dict[str, Any], key: str, where: str, default: float, limit: float
    ) -> float:
        seconds = self.unit(parse_duration, raw.get(key, default), where, default)
        if seconds > limit:
            self.problems.append(f'{where}: "{raw[key]}" is longer than the limit of {limit:g}s; shorten it')
            return default
        return seconds

    def close_match(self, name: str, names: Any) -> str | None:
        """The name a typo most likely meant, for the first MAX_HINTS problems of a not too large spec."""
        if self.hints_left <= 0 or len(names) > MAX_HINT_NAMES:
            return None
        self.hints_left -= 1
        close = difflib.get_close_matches(name, sorted(names), n=1)
        return close[0] if close else None

    def unit(self, parse: Any, value: object, where: str, fallback: Any) -> Any:
        try:
            return parse(value)
        except UnitError as error:
            self.problems.append(f"{where}: {error}")
            return fallback

    def build(self, source: str) -> Spec:
        meta = self.data["metadata"]
        if len(meta["name"]) > MAX_NAME_LENGTH:
            self.problems.append(
                f'metadata.name: "{meta["name"]}" is {len(meta["name"])} characters; use at most '
                f"{MAX_NAME_LENGTH} so object names like <name>-stage-12 stay valid"
            )
        reference = self.reference_speed()
        planner = replace(self.planner(), reference_flops_per_s=reference)
        cluster = self.cluster(planner_reference=reference)
        dispatcher = self.dispatcher(cluster)
        runtime = self.runtime()
        self.check_dispatcher_arch(cluster, dispatcher.node, runtime)
        return Spec(
            name=meta["name"],
            namespace=meta.get("namespace", "default"),
            create_namespace=meta.get("createNamespace", False),
            model=self.model(),
            cluster=cluster,
            dispatcher=dispatcher,
            runtime=runtime,
            planner=planner,
            weights=self.weights(),
            source_path=source,
            monitoring=self.monitoring(),
        )

    def check_dispatcher_arch(self, cluster: Cluster, node: str, runtime: Runtime) -> None:
        """The dispatcher runs the same image: its node must be of an architecture the image has."""
        if node in cluster.node_names:
            arch = cluster.node(node).arch
            if arch is not None and arch not in runtime.architectures:
                self.problems.append(
                    f'dispatcher.node: "{node}" is {arch} but runtime.platforms has '
                    f"{', '.join(runtime.platforms)}; add linux/{arch} (and build the image for it) or move "
                    "the dispatcher"
                )

    def networks(self, values: Any, where: str) -> tuple[str, ...]:
        """CIDRs in canonical form; one with host bits set is refused (it would admit another network
        than the one its author meant)."""
        out = []
        for i, cidr in enumerate(values):
            try:
                network = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                self.problems.append(f'{where}[{i}]: "{cidr}" is not a network; write a CIDR like 10.0.0.0/8')
                continue
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                self.problems.append(f'{where}[{i}]: "{cidr}" has host bits set; write {network}')
                continue
            out.append(str(network))
        return tuple(out)

    def monitoring(self) -> Monitoring:
        raw = self.data.get("monitoring", {})
        return Monitoring(
            namespaces=tuple(raw.get("namespaces", ())),
            cidrs=self.networks(raw.get("allowFrom", ()), "monitoring.allowFrom"),
        )

    def reference_speed(self) -> float:
        value = self.data.get("planner", {}).get("referenceSpeed", "10GFLOPS")
        if isinstance(value, (int, float)):
            if not value > 0 or not math.isfinite(value):
                self.problems.append(
                    f"planner.referenceSpeed: {value} must be a positive speed like 10GFLOPS"
                )
                return 1e10
            return self.unit(lambda v: check_flops(float(v), v), value, "planner.referenceSpeed", 1e10)
        return self.unit(parse_flops, value, "planner.referenceSpeed", 1e10)

    def model(self) -> ModelSource:
        model = self.data["model"]
        for key in ("file", "profile"):
            if key not in model:
                continue
            target = self.base_dir / model[key]
            if not target.exists():
                self.problems.append(
                    f'model.{key}: "{model[key]}" not found (paths are relative to the spec\'s folder, '
                    f"{self.base_dir})"
                )
                continue
            try:
                check_regular_file(target, "a model file" if key == "file" else "a model profile")
            except DocumentError as error:
                self.problems.append(f'model.{key}: "{model[key]}" {error.problem}')
        app = model.get("application")
        if app is not None and app not in KERAS_APPLICATIONS:
            close = difflib.get_close_matches(app, KERAS_APPLICATIONS, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]}?" if close else "see keras.applications for the names"
            self.problems.append(f'model.application: "{app}" is not a keras.applications model; {hint}')
        shape = model.get("inputShape")
        if shape and math.prod(shape) > MAX_INPUT_ELEMENTS:
            self.problems.append(
                f"model.inputShape: {shape} holds {math.prod(shape):,} values; at most "
                f"{MAX_INPUT_ELEMENTS:,} (1 GiB of float32) fit a stage"
            )
        return ModelSource(
            application=app,
            file=str(self.base_dir / model["file"]) if "file" in model else None,
            profile=str(self.base_dir / model["profile"]) if "profile" in model else None,
            input_shape=tuple(shape) if shape else None,
            version=model["version"],
            seed=model.get("seed", 0),
        )

    def measured(self) -> MeasuredCluster | None:
        """The included measured-cluster file (cluster.measured, relative to the spec), if any."""
        name = self.data["cluster"].get("measured")
        if name is None or not self.include_measured:
            return None
        try:
            return read_measured(self.base_dir / name)
        except SpecError as error:
            self.problems += [f"cluster.measured: {line}" for line in str(error).splitlines()]
            return None

    def backend_and_precision(self) -> tuple[str, str]:
        """The runtime a node's measured speed must have been measured with (the spec's defaults too)."""
        raw = self.data.get("runtime") or {}
        return str(raw.get("backend", "litert")), str(raw.get("precision", "fp32"))

    def cluster(self, planner_reference: float) -> Cluster:
        nodes_data = self.data["cluster"]["nodes"]
        measured = self.measured()
        any_absolute = any(isinstance(raw.get("speed"), str) for raw in nodes_data)
        nodes = []
        seen: dict[str, int] = {}
        for i, raw in enumerate(nodes_data):
            where = f"cluster.nodes[{i}]"
            if raw["name"] in seen:
                self.problems.append(
                    f'{where}.name: "{raw["name"]}" is already used by cluster.nodes[{seen[raw["name"]]}]; '
                    "node names must be unique"
                )
            seen.setdefault(raw["name"], i)
            memory = self.unit(parse_size, raw["memory"], f"{where}.memory", None)
            if memory is not None and memory <= 0:
                self.problems.append(f'{where}.memory: "{raw["memory"]}" must be more than zero')
            reserved = self.unit(parse_size, raw.get("reserved", 0), f"{where}.reserved", 0)
            if reserved < 0 or (memory is not None and 0 < memory <= reserved):
                self.problems.append(
                    f'{where}.reserved: "{raw.get("reserved")}" must be at least 0 and less than the node\'s '
                    f"memory ({raw['memory']})"
                )
            found = measured.speed(raw["name"]) if measured is not None and "speed" not in raw else None
            if found is not None and (found.backend, found.precision) != self.backend_and_precision():
                runs = " ".join(self.backend_and_precision())
                self.problems.append(
                    f"{where}: its speed in cluster.measured was measured with {found.backend} "
                    f"{found.precision}, but the spec runs {runs}; a node's speed depends on the backend: "
                    "re-run `seifer probe` (or give the node a speed)"
                )
                found = None
            if found is not None:  # the spec's own speed wins; a measured one fills in where it says none
                flops, absolute = found.flops_per_s, found.absolute
            else:
                flops = self.speed(raw.get("speed", 1.0), f"{where}.speed", planner_reference)
                absolute = isinstance(raw.get("speed"), str) or ("speed" not in raw and any_absolute)
            nodes.append(
                Node(
                    name=raw["name"],
                    memory_bytes=memory or 0,
                    flops_per_s=flops,
                    reserved_bytes=reserved,
                    schedulable=raw.get("schedulable", True),
                    arch=raw.get("arch"),
                    labels=tuple(sorted(raw.get("labels", {}).items())),
                    cpus=float(raw.get("cpus", 1)),
                    speed_absolute=absolute,
                )
            )
        if not any(n.schedulable for n in nodes):
            self.problems.append("cluster.nodes: no node is schedulable; let at least one node run stages")
        bandwidth = self.data["cluster"]["bandwidth"]
        default = None
        if "default" in bandwidth:
            default = self.unit(parse_bandwidth, bandwidth["default"], "cluster.bandwidth.default", None)
            self.bandwidth_unknown = default is None
        links = self.links(bandwidth.get("links", []), set(seen))
        if measured is not None:
            links = with_measured(links, measured, set(seen))
        medium = bandwidth.get("medium", "switched")
        return Cluster(nodes=tuple(nodes), links=links, default_bits_per_s=default, medium=medium)

    def speed(self, value: object, where: str, reference: float) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not value > 0 or not math.isfinite(value):
                self.problems.append(
                    f"{where}: {value} must be more than zero (1.0 = planner.referenceSpeed)"
                )
                return reference
            speed = float(value) * reference
            return self.unit(lambda _: check_flops(speed, value), value, where, reference)
        return self.unit(parse_flops, value, where, reference)

    def links(self, raw_links: list[dict[str, Any]], names: set[str]) -> tuple[Link, ...]:
        explicit: dict[tuple[str, str], tuple[float, int]] = {}
        for i, raw in enumerate(raw_links):
            where = f"cluster.bandwidth.links[{i}]"
            ok = True
            for end in ("from", "to"):
                if raw[end] not in names:
                    close = self.close_match(raw[end], names)
                    hint = f"did you mean '{close}'?" if close else "list it in cluster.nodes"
                    self.problems.append(
                        f'{where}.{end}: "{raw[end]}" is not a node of cluster.nodes; {hint}'
                    )
                    ok = False
            if raw["from"] == raw["to"]:
                self.problems.append(f'{where}: a link from "{raw["from"]}" to itself; remove it')
                ok = False
            key = (raw["from"], raw["to"])
            if key in explicit:
                self.problems.append(
                    f"{where}: {raw['from']} -> {raw['to']} is already given by "
                    f"cluster.bandwidth.links[{explicit[key][1]}]; keep one"
                )
                ok = False
            rate = self.unit(parse_bandwidth, raw["bandwidth"], f"{where}.bandwidth", None)
            self.bandwidth_unknown |= rate is None
            if ok and rate is not None:
                explicit[key] = (rate, i)
        table = {key: rate for key, (rate, _) in explicit.items()}
        for (a, b), (rate, _) in explicit.items():
            table.setdefault((b, a), rate)  # symmetric unless the reverse is listed too
        return tuple(Link(a, b, rate) for (a, b), rate in sorted(table.items()))

    def dispatcher(self, cluster: Cluster) -> Dispatcher:
        raw = self.data["dispatcher"]
        names = cluster.node_names
        node = raw["node"]
        if node not in set(names):
            close = self.close_match(node, names)
            hint = f"did you mean '{close}'?" if close else "name one of cluster.nodes"
            self.problems.append(f'dispatcher.node: "{node}" is not a node of cluster.nodes; {hint}')
        else:
            self.check_reachable(cluster, node)
        allow_from = self.networks(raw.get("allowFrom", ()), "dispatcher.allowFrom")
        port = raw.get("port", 8080)
        if port in RESERVED_PORTS or port in RESERVED_HTTP_PORTS:
            self.problems.append(
                f"dispatcher.port: {port} is reserved for the chain (5599-5699, 8600-8699); pick another"
            )
        return Dispatcher(
            node=node,
            port=port,
            allow_from=allow_from,
            deadline_s=self.bounded_duration(raw, "deadline", "dispatcher.deadline", 10.0, MAX_DEADLINE_S),
            max_in_flight=raw.get("maxInFlight", 64),
        )

    def check_reachable(self, cluster: Cluster, start: str) -> None:
        """Every node must be reachable from the dispatcher over links with bandwidth: a breadth-first
        search over the link table, linear in nodes + links (a default bandwidth links every pair)."""
        if self.bandwidth_unknown or not self.check_links:  # a bandwidth already reported is no link
            return
        if cluster.default_bits_per_s:
            reached = _reached_with_default(cluster, start)
            if reached is None:
                return
        else:
            neighbours: dict[str, list[str]] = defaultdict(list)
            for link in cluster.links:
                if link.bits_per_s > 0:
                    neighbours[link.source].append(link.target)
            reached = {start}
            queue = deque([start])
            while queue:
                for other in neighbours[queue.popleft()]:
                    if other not in reached:
                        reached.add(other)
                        queue.append(other)
        for i, node in enumerate(cluster.nodes):
            if node.name not in reached:
                self.problems.append(
                    f'cluster.nodes[{i}]: "{node.name}" cannot be reached from the dispatcher\'s node '
                    f'"{start}"; '
                    "add a link to it in cluster.bandwidth.links or set cluster.bandwidth.default"
                )

    def runtime(self) -> Runtime:
        raw = self.data["runtime"]
        backend = raw.get("backend", "litert")
        precision = raw.get("precision", "fp32")
        if backend == "tensorflow" and precision != "fp32":
            self.problems.append(
                f'runtime.precision: "{precision}" needs backend litert; the tensorflow backend runs fp32 '
                "only (remove runtime.precision or set runtime.backend: litert)"
            )
        if problem := digest_problem(raw["image"]):
            self.problems.append(problem)
        overhead = self.unit(parse_size, raw.get("memoryOverhead", 0), "runtime.memoryOverhead", 0)
        if overhead < 0:
            self.problems.append(f'runtime.memoryOverhead: "{raw["memoryOverhead"]}" must be at least 0')
        return Runtime(
            image=raw["image"],
            codec=self.codec(raw.get("codec", "none")),
            queue_depth=raw.get("queueDepth", 2),
            memory_overhead_bytes=max(overhead, 0),
            image_pull_policy=raw.get("imagePullPolicy", default_pull_policy(raw["image"])),
            backend=backend,
            precision=precision,
            platforms=tuple(raw.get("platforms", ("linux/amd64", "linux/arm64"))),
            encryption=raw.get("encryption", "curve"),
        )

    def codec(self, raw: str | dict[str, Any]) -> Codec:
        if isinstance(raw, str):
            raw = {"name": raw}
        where = "runtime.codec"
        name = raw["name"]
        params = {k for k in ("mode", "rate", "precision", "tolerance") if k in raw}
        if name != "zfp":
            if params:
                self.problems.append(f"{where}: {', '.join(sorted(params))} only apply to zfp; remove them")
            return Codec(name=name, ratio=raw.get("ratio", DEFAULT_RATIO[name]))
        mode = raw.get("mode", "rate")
        wrong = params - {"mode", mode}
        if wrong:
            self.problems.append(
                f"{where}: {', '.join(sorted(wrong))} do not apply to zfp mode '{mode}'; remove them"
            )
        if mode == "rate":
            rate = float(raw.get("rate", DEFAULT_ZFP_RATE))
            if rate < ZFP_MIN_RATE:
                self.problems.append(
                    f"{where}.rate: {rate:g} is below zfp's minimum of {ZFP_MIN_RATE:g} bits per value: "
                    f"fixed-rate zfp needs {ZFP_MIN_BLOCK_BITS} bits per block of 4^d values (4-D tensors; "
                    f"1-D tensors need rate >= {zfp_min_rate(1):g}); raise it"
                )
            if "ratio" in raw:
                self.problems.append(
                    f"{where}.ratio: fixed-rate zfp has an exact ratio (32 / rate); remove it"
                )
            return Codec(name="zfp", mode="rate", rate=rate, ratio=32.0 / rate)
        if mode in ("precision", "tolerance") and mode not in raw:
            self.problems.append(f"{where}: zfp mode '{mode}' needs '{mode}'")
        return Codec(
            name="zfp",
            mode=mode,
            precision=raw.get("precision"),
            tolerance=raw.get("tolerance"),
            ratio=raw.get("ratio", DEFAULT_RATIO["zfp"]),
        )

    def planner(self) -> PlannerOptions:
        raw = self.data.get("planner", {})
        return PlannerOptions(
            objective=raw.get("objective", "full"),
            time_budget_s=self.bounded_duration(
                raw, "timeBudget", "planner.timeBudget", 2.0, MAX_TIME_BUDGET_S
            ),
            stability_margin=raw.get("stabilityMargin", 0.05),
            max_stages=raw.get("maxStages"),
            seed=raw.get("seed", 0),
            on_node_loss=raw.get("onNodeLoss", "repair"),
            repair_margin=raw.get("repairMargin", 0.10),
        )

    def weights(self) -> WeightsOptions:
        raw = self.data.get("weights", {})
        chunk = self.unit(parse_size, raw.get("chunkSize", "768Ki"), "weights.chunkSize", 768 * 1024)
        if not 4096 <= chunk <= 1000 * 1024:
            self.problems.append(
                f'weights.chunkSize: "{raw.get("chunkSize")}" must be between 4Ki and 1000Ki: a ConfigMap '
                "holds at most 1 MiB"
            )
        total = self.unit(parse_size, raw.get("maxTotal", "64Mi"), "weights.maxTotal", 64 * 1024 * 1024)
        if total <= 0:
            self.problems.append(f'weights.maxTotal: "{raw["maxTotal"]}" must be more than zero')
        return WeightsOptions(
            delivery=raw.get("delivery", "configmap"), chunk_bytes=chunk, max_configmap_total_bytes=total
        )


def with_measured(links: tuple[Link, ...], measured: MeasuredCluster, names: set[str]) -> tuple[Link, ...]:
    """The spec's links plus the measured ones for every pair the spec's links do not give (a listed link
    covers both ways unless the reverse is listed too, so it wins both ways); a pair measured as
    unreachable becomes a link of 0 bps (no link), which also overrides bandwidth.default. Entries naming
    nodes the spec no longer has are ignored, so removing a board needs no re-measure."""
    table = {(lk.source, lk.target): lk.bits_per_s for lk in links}
    given = set(table)
    for found in measured.links:
        key = (found.source, found.target)
        if key not in given and found.source in names and found.target in names:
            table[key] = found.bits_per_s
    for lost in measured.unreachable:
        key = (lost.source, lost.target)
        if key not in given and lost.source in names and lost.target in names:
            table[key] = 0.0
    return tuple(Link(a, b, rate) for (a, b), rate in sorted(table.items()))


def _reached_with_default(cluster: Cluster, start: str) -> set[str] | None:
    """Nodes reachable from start when a default bandwidth links every pair except those given 0 bps
    (measured as unreachable); None when no pair is 0 (every node is reached). Linear in nodes + links:
    each node leaves `left` once, and a node kept is kept by one of the few 0 bps pairs."""
    blocked: dict[str, set[str]] = defaultdict(set)
    for link in cluster.links:
        if link.bits_per_s <= 0:
            blocked[link.source].add(link.target)
    if not blocked:
        return None
    left = set(cluster.node_names) - {start}
    reached = {start}
    queue = deque([start])
    while queue and left:
        source = queue.popleft()
        step = [name for name in left if name not in blocked[source]]
        left.difference_update(step)
        reached.update(step)
        queue.extend(sorted(step))
    return reached
