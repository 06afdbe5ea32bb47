"""`seifer bench cluster --media`: predicted against measured throughput on a switched and a shared medium.

Why. The planner prices `cluster.bandwidth.medium: switched` as the slowest transfer of the chain and `shared`
(one Wi-Fi channel) as the SUM of its transfer times; the emulator builds either (seifer_iac/local/netns.py:
one HTB class per directed pair, or in addition one airtime channel for all of the nodes' traffic). Each case
is a link-bound cluster with the research's Wi-Fi links whose memory is tight enough that the chain has
several transfers, run three times: the switched plan on a switched network, the shared plan on shared air,
and the switched plan on shared air (what a planner that ignores the medium would promise on one channel).
Each run is priced both ways from its plan's transfer times, and measured against the emulated medium's price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from seifer_iac.bench.cluster import BenchSettings, RunResult, Say, measure
from seifer_iac.bench.cluster_gen import BenchModel, ClusterShape, RunChoices, build_spec
from seifer_iac.model.cache import profile_for_source
from seifer_iac.planner.plan import Plan
from seifer_iac.release import plan_for_spec


@dataclass(frozen=True)
class MediaCase:
    """A model on `workers` Wi-Fi nodes with `memory` each (tight: the chain needs several nodes)."""

    model: BenchModel
    workers: int
    memory: str


DEFAULT_CASES = (
    MediaCase(BenchModel(), 4, "118Mi"),  # MobileNetV2 in 3 stages: 4 transfers
    MediaCase(BenchModel(application="ResNet50", seed=0), 8, "220Mi"),  # 3 stages with 0.4-0.9 s transfers
)
MEDIA_WINDOW_S = 40.0  # about 40 s of a full pipeline per run: the drain at the end is left out
RUNS = (("switched", "switched"), ("shared", "shared"), ("switched", "shared"))  # (plan made for, emulated)


@dataclass(frozen=True)
class MediaResult:
    """One run: the plan made for `planned_for`, measured on an emulated `emulated` medium."""

    case: MediaCase
    planned_for: str
    emulated: str
    run: RunResult
    transfers_s: tuple[float, ...]  # the plan's transfers in chain order: input, hops, output

    @property
    def switched_per_s(self) -> float:
        """The placement priced on a switched medium (links only: the slowest transfer)."""
        return 1.0 / max(self.transfers_s)

    @property
    def shared_per_s(self) -> float:
        """The placement priced on a shared medium (links only: the transfers add up)."""
        return 1.0 / sum(self.transfers_s)

    @property
    def predicted_per_s(self) -> float:
        """What the emulated medium's model predicts for this placement."""
        return self.shared_per_s if self.emulated == "shared" else self.switched_per_s

    @property
    def ratio(self) -> float:
        return self.run.measured_per_s / self.predicted_per_s


def transfers_of(plan: Plan) -> tuple[float, ...]:
    return (plan.input_link_s, *(s.link_out_s for s in plan.stages))


def case_settings(case: MediaCase, planned_for: str, emulated: str, settings: BenchSettings) -> BenchSettings:
    shape = ClusterShape(
        workers=case.workers,
        seed=settings.shape.seed,
        big_memory=case.memory,
        small_memory=case.memory,
        uniform_memory=True,
        medium=planned_for,
    )
    window = max(settings.target_s, MEDIA_WINDOW_S)
    return replace(
        settings, shape=shape, model=case.model, emulate_medium=emulated, full_window=True, target_s=window
    )


def plan_of(case: MediaCase, settings: BenchSettings) -> Plan:
    """The plan the run will deploy (planning is deterministic: the release plans the same spec)."""
    spec = build_spec("cb-media", settings.shape, case.model, RunChoices(), settings.base_dir)
    return plan_for_spec(spec, profile_for_source(spec.model))


def run_media(cases: Sequence[MediaCase], settings: BenchSettings, say: Say) -> tuple[MediaResult, ...]:
    """Every case on both media, plus the switched plan on shared air."""
    results = []
    for case in cases:
        for planned_for, emulated in RUNS:
            chosen = case_settings(case, planned_for, emulated, settings)
            plan = plan_of(case, chosen)
            say(f"[media] {case.model.label} on {case.workers} x {case.memory}: the {planned_for} plan on"
                f" {emulated} air")  # fmt: skip
            experiment = f"{planned_for[:2]}{emulated[:2]}-medium"
            run = measure(experiment, case.workers, "none", chosen, say, model=case.model)
            placement = " > ".join(f"{s.node}[{s.first_block}-{s.last_block}]" for s in plan.stages)
            if placement != run.placement:
                raise RuntimeError(f"the release planned {run.placement}, the benchmark priced {placement}")
            results.append(MediaResult(case, planned_for, emulated, run, transfers_of(plan)))
    return tuple(results)


MEDIA_HEADER = (
    "model", "workers x memory", "plan made for", "emulated medium", "placement [blocks]", "transfers ms",
    "predicted switched /s", "predicted shared /s", "measured /s", "measured/predicted (emulated medium)",
    "answered", "host load",
)  # fmt: skip


def media_rows(results: Sequence[MediaResult]) -> list[list[str]]:
    return [
        [
            m.run.model, f"{m.case.workers} x {m.case.memory}", m.planned_for, m.emulated, m.run.placement,
            " + ".join(f"{t * 1e3:.0f}" for t in m.transfers_s), f"{m.switched_per_s:.2f}",
            f"{m.shared_per_s:.2f}", f"{m.run.measured_per_s:.2f}", f"{m.ratio:.2f}",
            f"{m.run.answered}/{m.run.requests}", f"{m.run.host_load:.1f}",
        ]
        for m in results
    ]  # fmt: skip


def media_lines(results: Sequence[MediaResult]) -> list[str]:
    """The table, and per case what a planner blind to the medium would have promised on one channel."""
    if not results:
        return []
    lines = ["## Switched and shared medium: predicted against measured", ""]
    lines += ["| " + " | ".join(MEDIA_HEADER) + " |", "|" + "|".join("---" for _ in MEDIA_HEADER) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in media_rows(results)]
    lines.append("")
    for case in dict.fromkeys(m.case for m in results):
        mine = {(m.planned_for, m.emulated): m for m in results if m.case == case}
        blind, aware = mine.get(("switched", "shared")), mine.get(("shared", "shared"))
        if blind is None or aware is None:
            continue
        lines.append(
            f"{case.model.label}, {case.workers} workers on shared air: the switched plan promised"
            f" {blind.switched_per_s:.2f}/s and measured {blind.run.measured_per_s:.2f}/s"
            f" ({blind.run.measured_per_s / blind.switched_per_s:.2f} of its promise,"
            f" {blind.ratio:.2f} of its shared price {blind.shared_per_s:.2f}/s); the plan made for the"
            f" shared medium measured {aware.run.measured_per_s:.2f}/s"
            f" ({aware.run.measured_per_s / blind.run.measured_per_s - 1:+.0%} on the same air)."
        )
    return [*lines, ""]
