"""The research's placement grid, measured: ours against two-phase, greedy and random.

Pure logic (no click); `seifer bench paper` is the shell. Per configuration it reports the mean bottleneck
of each method, our relaxation gap, our ratio against each baseline (ratio of means over the trials where
both found a plan), the share proven optimal and our plan times (process CPU time of `optimise`, instance
building included, imports excluded). Sizes are the profiles' real float32
bytes with no compression (the research assumed 8-byte floats and a fixed 1.44 ZFP ratio).
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from seifer_iac.bench.grid import GridPoint, grid_problem
from seifer_iac.planner.baselines import greedy, random_placement, two_phase
from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.evaluate import assess
from seifer_iac.planner.instance import build_instance
from seifer_iac.planner.optimise import optimise
from seifer_iac.profile import Profile, load_profile

MODELS = ("ResNet50", "InceptionResNetV2", "EfficientNetB1", "MobileNetV2")
NODES = (5, 10, 15, 20, 50)
MEMORY_MIB = (64, 128, 256, 512)
TRIALS = 50
QUICK_NODES = (5, 20, 50)
QUICK_TRIALS = 3
PROFILE_DIR = Path(__file__).resolve().parent / "profiles"

VARIANTS = {
    "with-dispatcher": "communication objective, dispatcher links counted (our product's objective)",
    "without-dispatcher": "communication objective, dispatcher links left out (like the research's figures)",
    "mixed": "mixed memory 32-512 MiB and speed 0.5-8 GFLOP/s, full objective (compute + links)",
}
METHODS = ("ours", "two_phase", "greedy", "random")


@dataclass(frozen=True)
class Trial:
    variant: str
    point: GridPoint
    seed: int
    bottleneck: Mapping[str, float]  # method -> seconds (inf: found no plan)
    gap: float
    proven: bool
    plan_s: float


@dataclass(frozen=True)
class Row:
    variant: str
    model: str
    nodes: int
    memory: str
    trials: int
    feasible: int
    ours_ms: float
    two_phase_ms: float
    greedy_ms: float
    random_ms: float
    vs_two_phase: float
    vs_greedy: float
    vs_random: float
    gap_mean: float
    gap_max: float
    proven_share: float
    plan_median_ms: float
    plan_worst_ms: float
    baseline_failures: int


def load_profiles(models: Iterable[str] = MODELS, folder: Path = PROFILE_DIR) -> dict[str, Profile]:
    return {m: load_profile(folder / f"{m}.json") for m in models}


def grid(variant: str, quick: bool, models: Iterable[str] = MODELS) -> list[GridPoint]:
    nodes = QUICK_NODES if quick else NODES
    if variant == "mixed":
        return [GridPoint(m, n, None, objective="full", mixed_speed=True) for m in models for n in nodes]
    links = variant == "with-dispatcher"
    return [GridPoint(m, n, mem, dispatcher_links=links) for m in models for n in nodes for mem in MEMORY_MIB]


def run_trial(variant: str, point: GridPoint, profile: Profile, seed: int, budget_s: float = 2.0) -> Trial:
    """One seeded cluster: our plan (timed) and the three baselines, all priced by the same evaluator."""
    problem = grid_problem(point, profile, seed, time_budget_s=budget_s)
    started = time.process_time()  # CPU time: robust on a machine shared with other work
    try:
        plan = optimise(problem, with_backups=False)
    except PlanningError:
        plan = None
    plan_s = time.process_time() - started
    inst = build_instance(problem)
    found = {
        "two_phase": two_phase(problem, inst, budget_s),
        "greedy": greedy(problem, inst),
        "random": random_placement(problem, inst, seed),
    }
    values = {"ours": plan.bottleneck_s if plan else math.inf}
    for name, placement in found.items():
        values[name] = assess(problem, placement).bottleneck_s if placement else math.inf
    return Trial(
        variant=variant,
        point=point,
        seed=seed,
        bottleneck=values,
        gap=plan.gap if plan else math.nan,
        proven=bool(plan and plan.proven_optimal),
        plan_s=plan_s,
    )


def _ratio(trials: list[Trial], method: str) -> float:
    pairs = [t for t in trials if math.isfinite(t.bottleneck[method]) and math.isfinite(t.bottleneck["ours"])]
    ours = sum(t.bottleneck["ours"] for t in pairs)
    if not pairs or ours <= 0:
        return math.nan
    return sum(t.bottleneck[method] for t in pairs) / ours


def _mean_ms(trials: list[Trial], method: str) -> float:
    values = [t.bottleneck[method] for t in trials if math.isfinite(t.bottleneck[method])]
    return statistics.fmean(values) * 1e3 if values else math.nan


def summarise(trials: list[Trial]) -> Row:
    first = trials[0]
    feasible = [t for t in trials if math.isfinite(t.bottleneck["ours"])]
    times = [t.plan_s * 1e3 for t in trials]
    gaps = [t.gap for t in feasible]
    return Row(
        variant=first.variant,
        model=first.point.model,
        nodes=first.point.nodes,
        memory="mixed" if first.point.memory_mib is None else f"{first.point.memory_mib}Mi",
        trials=len(trials),
        feasible=len(feasible),
        ours_ms=_mean_ms(feasible, "ours"),
        two_phase_ms=_mean_ms(feasible, "two_phase"),
        greedy_ms=_mean_ms(feasible, "greedy"),
        random_ms=_mean_ms(feasible, "random"),
        vs_two_phase=_ratio(feasible, "two_phase"),
        vs_greedy=_ratio(feasible, "greedy"),
        vs_random=_ratio(feasible, "random"),
        gap_mean=statistics.fmean(gaps) if gaps else math.nan,
        gap_max=max(gaps) if gaps else math.nan,
        proven_share=sum(t.proven for t in feasible) / len(feasible) if feasible else math.nan,
        plan_median_ms=statistics.median(times),
        plan_worst_ms=max(times),
        baseline_failures=sum(1 for t in feasible for m in METHODS[1:] if not math.isfinite(t.bottleneck[m])),
    )


def run_variant(
    variant: str,
    profiles: Mapping[str, Profile],
    quick: bool,
    trials: int | None = None,
    budget_s: float = 2.0,
    progress: Callable[[Row], None] | None = None,
) -> tuple[list[Row], list[Trial]]:
    """Every configuration of a variant, seeds 0..trials-1 (the same clusters for every method)."""
    count = trials if trials is not None else (QUICK_TRIALS if quick else TRIALS)
    rows, everything = [], []
    for point in grid(variant, quick, profiles):
        done = [run_trial(variant, point, profiles[point.model], seed, budget_s) for seed in range(count)]
        row = summarise(done)
        rows.append(row)
        everything.extend(done)
        if progress:
            progress(row)
    return rows, everything


def overall(trials: list[Trial]) -> dict[str, float]:
    """Figures over a whole variant: ratios of means, share proven, plan time median/worst by size."""
    feasible = [t for t in trials if math.isfinite(t.bottleneck["ours"])]
    out: dict[str, float] = {
        "trials": len(trials),
        "feasible": len(feasible),
        "vs_two_phase": _ratio(feasible, "two_phase"),
        "vs_greedy": _ratio(feasible, "greedy"),
        "vs_random": _ratio(feasible, "random"),
        "proven_share": sum(t.proven for t in feasible) / len(feasible) if feasible else math.nan,
        "greedy_optimal_share": sum(
            t.bottleneck["greedy"] <= t.bottleneck["ours"] * (1 + 1e-9) for t in feasible
        )
        / len(feasible)
        if feasible
        else math.nan,
    }
    for n in sorted({t.point.nodes for t in trials}):
        times = [t.plan_s * 1e3 for t in trials if t.point.nodes == n]
        out[f"plan_median_ms_{n}"] = statistics.median(times)
        out[f"plan_worst_ms_{n}"] = max(times)
    return out


def _fmt(value: float, digits: int = 1) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}"


HEADER = (
    "| model | nodes | memory | ok | ours ms | two-phase ms | greedy ms | random ms | x two-phase"
    " | x greedy | x random | gap mean/max | proven | plan median/worst ms |"
)


def markdown_header() -> list[str]:
    return [HEADER, "|" + "---|" * 14]


def markdown_rows(rows: list[Row]) -> list[str]:
    return markdown_header() + [markdown_row(r) for r in rows]


def markdown_row(r: Row) -> str:
    cells = [
        r.model,
        str(r.nodes),
        r.memory,
        f"{r.feasible}/{r.trials}",
        _fmt(r.ours_ms),
        _fmt(r.two_phase_ms),
        _fmt(r.greedy_ms),
        _fmt(r.random_ms),
        _fmt(r.vs_two_phase, 2),
        _fmt(r.vs_greedy, 2),
        _fmt(r.vs_random, 2),
        f"{_fmt(r.gap_mean * 100)}%/{_fmt(r.gap_max * 100)}%",
        f"{_fmt(r.proven_share * 100, 0)}%",
        f"{_fmt(r.plan_median_ms)}/{_fmt(r.plan_worst_ms)}",
    ]
    return "| " + " | ".join(cells) + " |"


def write_csv(rows: list[Row], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Row)])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(row).items()})
    return path


def read_csv(path: Path) -> list[Row]:
    """Rows written by write_csv (to re-plot without re-running)."""
    kinds = {f.name: f.type for f in fields(Row)}
    with path.open() as handle:
        return [
            Row(
                **{
                    k: (int(v) if kinds[k] == "int" else float(v) if kinds[k] == "float" else v)
                    for k, v in raw.items()
                }
            )
            for raw in csv.DictReader(handle)
        ]


def plot(rows: list[Row], variant: str, path: Path) -> Path:
    """Mean bottleneck per method against cluster size, one panel per model, at the smallest node memory
    of the grid (64 MiB, where memory forces several stages; larger memories often fit the model on one
    node), or the mixed memories."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    smallest = min((r.memory for r in rows), key=lambda m: int(m[:-2]) if m.endswith("Mi") else 0)
    rows = [r for r in rows if r.memory == smallest]
    models = list(dict.fromkeys(r.model for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.4), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        mine = [r for r in rows if r.model == model]
        nodes = sorted({r.nodes for r in mine})
        for method, label in (
            ("ours", "ours"),
            ("two_phase", "two-phase"),
            ("greedy", "greedy"),
            ("random", "random"),
        ):
            ys = []
            for n in nodes:
                vals = [getattr(r, f"{method}_ms") for r in mine if r.nodes == n]
                vals = [v for v in vals if not math.isnan(v)]
                mean = statistics.fmean(vals) if vals else math.nan
                ys.append(mean if mean > 0 else math.nan)  # 0 (one stage, no link counted): not on a log axis
            ax.plot(nodes, ys, marker="o", label=label)
        ax.set_title(model)
        ax.set_xlabel("nodes")
        ax.set_yscale("log")
    axes[0][0].set_ylabel("mean bottleneck (ms, log)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"{variant} ({smallest} nodes): {VARIANTS[variant]}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
