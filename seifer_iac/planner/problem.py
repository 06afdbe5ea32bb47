"""The planning problem as one value: what to place (profile), where (cluster), and how to price it.

A Problem is built from a Spec once (`problem_from_spec`) so the optimiser, the baselines, the lock's
stability check and the CLI all answer the same question. It carries every limit a deployment has
(node memory less the dispatcher's share on its node, the weight budget per stage, the image's
architectures), so any plan the planner returns also renders and schedules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from seifer_iac.planner.cost import CostModel
from seifer_iac.planner.memory import dispatcher_bytes
from seifer_iac.profile import Profile
from seifer_iac.spec.model import Cluster, Node, PlannerOptions, Spec

# What a partition's weights weigh once converted, per fp32 parameter byte (LiteRT: fp16 stores halves,
# dynamic-range int8 quarters; the flatbuffer's graph is small beside them). TensorFlow blobs are fp32.
STORED_WEIGHT_FRACTION = {"fp32": 1.0, "fp16": 0.5, "int8": 0.25}

# (first_block, last_block, node) per stage, 0-based inclusive block indices: what a plan decides.
Placement = tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class Problem:
    profile: Profile
    cluster: Cluster
    dispatcher_node: str
    cost: CostModel = field(default_factory=CostModel)
    options: PlannerOptions = field(default_factory=PlannerOptions)
    pipeline: str = "pipeline"
    model_version: str = "1"
    weight_budget_bytes: int | None = None  # weights.maxTotal: the most weight bytes one stage may carry
    weight_fraction: float = 1.0  # delivered weight bytes per fp32 parameter byte (precision)
    architectures: tuple[str, ...] | None = None  # node archs the image runs on (None: any)
    dispatcher_bytes: int = 0  # what the dispatcher holds on its node, beside any stage there
    image: str = ""  # the runtime image (recorded in the plan and its lock: a change rolls every pod)

    @property
    def hosts(self) -> tuple[Node, ...]:
        """Nodes that may run a stage, sorted by name (the order every tie is broken in)."""
        return tuple(
            sorted((n for n in self.cluster.nodes if n.schedulable and self.runs_on(n)), key=lambda n: n.name)
        )

    def runs_on(self, node: Node) -> bool:
        """The image has a build for the node's architecture (a node of unknown arch is not refused here:
        the pods' kubernetes.io/arch rule still keeps them off a wrong one)."""
        return self.architectures is None or node.arch is None or node.arch in self.architectures

    def weight_bytes(self, param_bytes: int) -> int:
        """The weight bytes a stage of `param_bytes` (fp32, from the profile) delivers at this precision."""
        return int(param_bytes * self.weight_fraction)

    def capacity(self, node: Node) -> int:
        """Bytes a stage may use on `node`: its usable memory, less the dispatcher's on the dispatcher's
        node (both run there and both must fit)."""
        share = self.dispatcher_bytes if node.name == self.dispatcher_node else 0
        return node.usable_memory_bytes - share

    @property
    def max_stages(self) -> int:
        """At most one stage per host, and no more than the spec allows."""
        limit = len(self.hosts)
        if self.options.max_stages is not None:
            limit = min(limit, self.options.max_stages)
        return limit

    def without(self, names: Iterable[str]) -> Problem:
        """The same problem on the cluster less some nodes (lost, cordoned, or `--without`)."""
        return replace(self, cluster=self.cluster.without(frozenset(names)))


def stored_weight_fraction(backend: str, precision: str) -> float:
    """Bytes a stage's delivered weights hold per fp32 parameter byte of the profile."""
    return STORED_WEIGHT_FRACTION[precision] if backend == "litert" else 1.0


def problem_from_spec(spec: Spec, profile: Profile, without: Iterable[str] = ()) -> Problem:
    """The problem a spec poses for a model profile, optionally with some nodes taken away."""
    output_bytes = profile.blocks[-1].output_bytes if profile.blocks else 0
    problem = Problem(
        profile=profile,
        cluster=spec.cluster,
        dispatcher_node=spec.dispatcher.node,
        cost=CostModel.from_spec(spec),
        options=spec.planner,
        pipeline=spec.name,
        model_version=spec.model.version,
        weight_budget_bytes=spec.weights.max_configmap_total_bytes,
        architectures=spec.runtime.architectures,
        image=spec.runtime.image,
        weight_fraction=stored_weight_fraction(spec.runtime.backend, spec.runtime.precision),
        dispatcher_bytes=dispatcher_bytes(spec.dispatcher.max_in_flight, profile.input_bytes, output_bytes),
    )
    gone = tuple(without)
    return problem.without(gone) if gone else problem
