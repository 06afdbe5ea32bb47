"""Read a pipeline spec: parse, check against the schema, then check what a schema cannot say.

Every problem found is reported at once, each naming its field, so one `seifer validate` run tells a user
everything to fix.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
from collections import deque
from pathlib import Path
from typing import Any

import yaml

from seifer_iac.spec.applications import KERAS_APPLICATIONS
from seifer_iac.spec.errors import SpecError, field_path
from seifer_iac.spec.image import default_pull_policy, digest_problem
from seifer_iac.spec.model import (
    Cluster,
    Codec,
    Dispatcher,
    Link,
    ModelSource,
    Node,
    PlannerOptions,
    Runtime,
    Spec,
    WeightsOptions,
)
from seifer_iac.spec.schema_errors import schema_problems
from seifer_iac.spec.units import UnitError, parse_bandwidth, parse_duration, parse_flops, parse_size

# Ports the runtime claims (docs/CONTRACTS.md); the dispatcher's API port must not collide with them.
RESERVED_PORTS = range(5599, 5700)
RESERVED_HTTP_PORTS = range(8600, 8700)
MAX_NAME_LENGTH = 50  # "<name>-dispatcher" and "<name>-stage-NN" must stay within 63 characters
DEFAULT_ZFP_RATE = 16.0
DEFAULT_RATIO = {"none": 1.0, "lz4": 1.0, "zfp": 1.5}


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (plain YAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice in one mapping", key_node.start_mark
                )
            seen.add(key if isinstance(key, (str, int, float, bool)) else id(key))
        return super().construct_mapping(node, deep=deep)


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
    """The parsed YAML/JSON document, or SpecError for a missing file or bad syntax."""
    source = str(path)
    if not path.exists():
        raise SpecError(source, ["no such file; pass the path of a pipeline spec (.yaml or .json)"])
    if path.is_dir():
        raise SpecError(source, ["is a directory; pass the path of a pipeline spec file"])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(source, [f"cannot read the file: {error}"]) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(source, [f"{where}not valid YAML ({reason})"]) from None


def load_spec(path: str | Path) -> Spec:
    """The validated Spec of a YAML or JSON file; SpecError lists every problem."""
    path = Path(path)
    data = read_document(path)
    return spec_from_data(data, source=str(path), base_dir=path.parent)


def spec_from_data(data: Any, source: str = "<spec>", base_dir: Path | None = None) -> Spec:
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
    problems = non_string_keys(data) or schema_problems(data)
    if problems:
        raise SpecError(source, problems)
    builder = _Builder(data, base_dir or Path.cwd())
    spec = builder.build(source)
    if builder.problems:
        raise SpecError(source, builder.problems)
    return spec


class _Builder:
    """Collects problems while it converts the checked document into values."""

    def __init__(self, data: dict[str, Any], base_dir: Path) -> None:
        self.data = data
        self.base_dir = base_dir
        self.problems: list[str] = []

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
        planner = self.planner()
        cluster = self.cluster(planner_reference=self.reference_speed())
        return Spec(
            name=meta["name"],
            namespace=meta.get("namespace", "default"),
            create_namespace=meta.get("createNamespace", False),
            model=self.model(),
            cluster=cluster,
            dispatcher=self.dispatcher(cluster),
            runtime=self.runtime(),
            planner=planner,
            weights=self.weights(),
            source_path=source,
        )

    def reference_speed(self) -> float:
        value = self.data.get("planner", {}).get("referenceSpeed", "10GFLOPS")
        if isinstance(value, (int, float)):
            if not value > 0 or not math.isfinite(value):
                self.problems.append(
                    f"planner.referenceSpeed: {value} must be a positive speed like 10GFLOPS"
                )
                return 1e10
            return float(value)
        return self.unit(parse_flops, value, "planner.referenceSpeed", 1e10)

    def model(self) -> ModelSource:
        model = self.data["model"]
        for key in ("file", "profile"):
            if key in model and not (self.base_dir / model[key]).is_file():
                self.problems.append(
                    f'model.{key}: "{model[key]}" not found (paths are relative to the spec\'s folder, '
                    f"{self.base_dir})"
                )
        app = model.get("application")
        if app is not None and app not in KERAS_APPLICATIONS:
            close = difflib.get_close_matches(app, KERAS_APPLICATIONS, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]}?" if close else "see keras.applications for the names"
            self.problems.append(f'model.application: "{app}" is not a keras.applications model; {hint}')
        shape = model.get("inputShape")
        return ModelSource(
            application=app,
            file=str(self.base_dir / model["file"]) if "file" in model else None,
            profile=str(self.base_dir / model["profile"]) if "profile" in model else None,
            input_shape=tuple(shape) if shape else None,
            version=model["version"],
            seed=model.get("seed", 0),
        )

    def cluster(self, planner_reference: float) -> Cluster:
        nodes_data = self.data["cluster"]["nodes"]
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
            nodes.append(
                Node(
                    name=raw["name"],
                    memory_bytes=memory or 0,
                    flops_per_s=self.speed(raw.get("speed", 1.0), f"{where}.speed", planner_reference),
                    reserved_bytes=reserved,
                    schedulable=raw.get("schedulable", True),
                    arch=raw.get("arch"),
                    labels=tuple(sorted(raw.get("labels", {}).items())),
                    cpus=float(raw.get("cpus", 1)),
                )
            )
        if not any(n.schedulable for n in nodes):
            self.problems.append("cluster.nodes: no node is schedulable; let at least one node run stages")
        bandwidth = self.data["cluster"]["bandwidth"]
        default = None
        if "default" in bandwidth:
            default = self.unit(parse_bandwidth, bandwidth["default"], "cluster.bandwidth.default", None)
        links = self.links(bandwidth.get("links", []), set(seen))
        return Cluster(nodes=tuple(nodes), links=links, default_bits_per_s=default)

    def speed(self, value: object, where: str, reference: float) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not value > 0 or not math.isfinite(value):
                self.problems.append(
                    f"{where}: {value} must be more than zero (1.0 = planner.referenceSpeed)"
                )
                return reference
            return float(value) * reference
        return self.unit(parse_flops, value, where, reference)

    def links(self, raw_links: list[dict[str, Any]], names: set[str]) -> tuple[Link, ...]:
        explicit: dict[tuple[str, str], tuple[float, int]] = {}
        for i, raw in enumerate(raw_links):
            where = f"cluster.bandwidth.links[{i}]"
            ok = True
            for end in ("from", "to"):
                if raw[end] not in names:
                    close = difflib.get_close_matches(raw[end], sorted(names), n=1)
                    hint = f"did you mean '{close[0]}'?" if close else "list it in cluster.nodes"
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
        if node not in names:
            close = difflib.get_close_matches(node, names, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "name one of cluster.nodes"
            self.problems.append(f'dispatcher.node: "{node}" is not a node of cluster.nodes; {hint}')
        else:
            self.check_reachable(cluster, node)
        for i, cidr in enumerate(raw.get("allowFrom", ())):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                self.problems.append(
                    f'dispatcher.allowFrom[{i}]: "{cidr}" is not a network; write a CIDR like 10.0.0.0/8'
                )
        port = raw.get("port", 8080)
        if port in RESERVED_PORTS or port in RESERVED_HTTP_PORTS:
            self.problems.append(
                f"dispatcher.port: {port} is reserved for the chain (5599-5699, 8600-8699); pick another"
            )
        return Dispatcher(
            node=node,
            port=port,
            allow_from=tuple(raw.get("allowFrom", ())),
            deadline_s=self.unit(parse_duration, raw.get("deadline", "10s"), "dispatcher.deadline", 10.0),
            max_in_flight=raw.get("maxInFlight", 64),
        )

    def check_reachable(self, cluster: Cluster, start: str) -> None:
        """Every schedulable node must be reachable from the dispatcher over links with bandwidth."""
        names = cluster.node_names
        reached = {start}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            for other in names:
                if other not in reached and cluster.bandwidth(here, other) > 0:
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
        return Runtime(
            image=raw["image"],
            codec=self.codec(raw.get("codec", "none")),
            queue_depth=raw.get("queueDepth", 2),
            memory_overhead_bytes=self.unit(
                parse_size, raw.get("memoryOverhead", 0), "runtime.memoryOverhead", 0
            ),
            image_pull_policy=raw.get("imagePullPolicy") or default_pull_policy(raw["image"]),
            backend=backend,
            precision=precision,
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
            time_budget_s=self.unit(parse_duration, raw.get("timeBudget", "2s"), "planner.timeBudget", 2.0),
            stability_margin=raw.get("stabilityMargin", 0.05),
            max_stages=raw.get("maxStages"),
            seed=raw.get("seed", 0),
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
        return WeightsOptions(
            delivery=raw.get("delivery", "configmap"), chunk_bytes=chunk, max_configmap_total_bytes=total
        )
