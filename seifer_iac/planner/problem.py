"""The planning problem as one value: what to place (profile), where (cluster), and how to price it.

A Problem is built from a Spec once (`problem_from_spec`) so the optimiser, the baselines, the lock's
stability check and the CLI all answer the same question.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from seifer_iac.planner.cost import CostModel
from seifer_iac.profile import Profile
from seifer_iac.spec.model import Cluster, Node, PlannerOptions, Spec

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

    @property
    def hosts(self) -> tuple[Node, ...]:
        """Nodes that may run a stage, sorted by name (the order every tie is broken in)."""
        return tuple(sorted((n for n in self.cluster.nodes if n.schedulable), key=lambda n: n.name))

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


def problem_from_spec(spec: Spec, profile: Profile, without: Iterable[str] = ()) -> Problem:
    """The problem a spec poses for a model profile, optionally with some nodes taken away."""
    problem = Problem(
        profile=profile,
        cluster=spec.cluster,
        dispatcher_node=spec.dispatcher.node,
        cost=CostModel.from_spec(spec),
        options=spec.planner,
        pipeline=spec.name,
        model_version=spec.model.version,
    )
    gone = tuple(without)
    return problem.without(gone) if gone else problem
