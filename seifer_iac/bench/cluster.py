"""`seifer bench cluster`: the research's systems experiments, on the cluster emulator, with real requests.

Each configuration is a real release (spec -> plan -> partitions -> manifests) run by `run_local` on an
emulated network (one namespace per node, every directed pair rate-limited), measured through the
dispatcher's HTTP API. Experiments: throughput and latency against cluster size (nested seeded clusters),
measured against predicted throughput, the codecs on one cluster, CPU seconds and bytes sent per inference
per node (the energy proxy), and a node loss with take-over by the plan's backup node (`failover`).
The figures are whatever this machine measures; the report says what every run did.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from seifer_iac.bench.cluster_gen import BenchModel, ClusterShape, RunChoices, build_spec, codec_label
from seifer_iac.local import failover, netns
from seifer_iac.local.runner import LocalOptions, RunningPipeline, run_local
from seifer_iac.local.stream import Outcome, Streamer, full_pipeline_throughput, steady_throughput
from seifer_iac.local.usage import Sample, cpu_seconds, delta, read_htb_sent
from seifer_iac.model.cache import profile_for_source
from seifer_iac.planner.lock import lock_path, write_lock
from seifer_iac.planner.spec_plan import plan_spec
from seifer_iac.release import Release, build_release, plan_for_spec

Say = Callable[[str], None]
DISTINCT_INPUTS = 4
UNLOADED_REQUESTS = 3
NAME_ATTEMPTS = 4


@dataclass(frozen=True)
class BenchSettings:
    """How much to measure and where. `shape` is the template cluster (its `workers` is replaced)."""

    run_dir: Path
    shape: ClusterShape = field(default_factory=lambda: ClusterShape(workers=1))
    model: BenchModel = field(default_factory=BenchModel)
    target_s: float = 20.0  # aim for this long a measured window per configuration
    min_requests: int = 16
    max_requests: int = 80
    loss_requests: int = 60
    deadline: str = "60s"
    ready_timeout_s: float = 300.0
    base_dir: Path | None = None  # resolves a model file
    limits: bool = False  # memory limit per pod from the manifests (cgroups; OOM kills counted)
    cpu_speed: bool = False  # with limits: each node as fast as its spec (CPU quota), time dilation
    dilation: float | None = None  # None: chosen from the host's cores
    emulate_medium: str | None = None  # run the plan on this medium's emulator (None: the spec's own)
    full_window: bool = False  # throughput only while the pipeline is full (no drain at the end)


@dataclass(frozen=True)
class NodeUsage:
    """One node's spend per answered inference over the measured window."""

    node: str
    role: str
    cpu_s: float
    sent_bytes: float


@dataclass(frozen=True)
class RunResult:
    """One measured configuration."""

    experiment: str
    model: str
    workers: int
    codec: str
    stages: int
    placement: str
    bottleneck: str
    predicted_per_s: float
    measured_per_s: float
    predicted_latency_s: float
    unloaded_latency_s: float
    latency_median_s: float
    latency_p95_s: float
    requests: int
    answered: int
    failed: int
    resends: float
    duplicates: float
    usage: tuple[NodeUsage, ...] = ()
    planned_input_bytes: int = 0  # wire bytes the plan expects on the dispatcher -> stage 1 link
    host_load: float = float("nan")  # 1-minute load average at the end of the window (2 cores shared)
    dilation: float = 1.0  # k: measured figures are already scaled back (rates x k, latencies / k)
    oom_kills: int = 0
    raw_measured_per_s: float = float("nan")  # what the dilated run measured, before scaling back
    node_time_s: tuple[tuple[str, float], ...] = ()  # per node with a CPU quota: CPU / quota per inference
    node_plan_s: tuple[tuple[str, float], ...] = ()  # per stage node: the plan's compute + relay time

    @property
    def busiest(self) -> str:
        """The node whose time per inference (CPU used / its quota, scaled back) is longest, and what the
        plan counts for it (compute + relay work)."""
        if not self.node_time_s:
            return ""
        node, seconds = max(self.node_time_s, key=lambda item: item[1])
        planned = dict(self.node_plan_s).get(node)
        return f"{node} {seconds * 1e3:.0f} ms" + (f" (plan {planned * 1e3:.0f})" if planned else "")

    @property
    def ratio(self) -> float:
        return self.measured_per_s / self.predicted_per_s if self.predicted_per_s > 0 else float("nan")

    @property
    def dispatcher_sent_bytes(self) -> float:
        """Bytes the dispatcher's node sent per inference: the input link's frames, headers included."""
        return next((u.sent_bytes for u in self.usage if u.role == "dispatcher"), float("nan"))


@dataclass(frozen=True)
class LossResult:
    """A node-loss run: what was lost, where its stage went, and every request's fate."""

    workers: int
    codec: str
    stage: int
    lost: str
    target: str
    how: str
    requests: int
    answered: int
    failed: int
    no_answer: int
    duplicates_dropped: float
    resends: float
    wrong_answers: int
    before_per_s: float
    after_per_s: float
    predicted_before_per_s: float
    predicted_after_per_s: float
    takeover_s: float  # loss -> moved stage ready
    longest_gap_s: float  # longest time without any answer


# measuring one running pipeline -------------------------------------------------------------------------


def sample(running: RunningPipeline) -> Sample:
    """CPU seconds per node (its processes summed) and bytes its shaping classes have sent."""
    node_of = {pod.name: pod.node for pod in running.pods}
    cpu: dict[str, float] = {}
    for status in running.supervisor.status():
        used = cpu_seconds(status.pid) if status.pid else None
        if used is not None:
            node = node_of[status.name]
            cpu[node] = cpu.get(node, 0.0) + used
    sent: dict[str, int] = {}
    if running.emulator is not None:
        config = running.emulator.config
        for node in config.nodes:
            counters = read_htb_sent(config.netns_of(node))
            if counters:
                sent[node] = sum(counters.values())
    return Sample(cpu, sent)


def dispatcher_counters(url: str) -> dict[str, float]:
    """The dispatcher's Prometheus counters, summed over labels (empty if it cannot be read)."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5.0) as response:
            text = response.read().decode()
    except OSError:
        return {}
    return parse_counters(text)


def parse_counters(text: str) -> dict[str, float]:
    """Prometheus text -> {metric name: value summed over its label sets}."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0]
        try:
            found[name] = found.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return found


def bench_inputs(shape: tuple[int, ...], count: int = DISTINCT_INPUTS) -> list[np.ndarray]:
    """Reproducible inputs in [-1, 1] (the range keras.applications expect); `shape` has the batch axis."""
    return [np.random.default_rng(i).uniform(-1.0, 1.0, size=shape).astype(np.float32) for i in range(count)]


def request_count(predicted_per_s: float, concurrency: int, settings: BenchSettings) -> int:
    """Enough requests for about `target_s` of steady state, within the configured bounds."""
    wanted = round(predicted_per_s * settings.target_s) + concurrency
    return max(settings.min_requests, min(settings.max_requests, wanted))


def concurrency_for(release: Release) -> int:
    """Requests in flight: enough to keep every hop of the chain busy (as the demo does)."""
    return 2 * (len(release.plan.stages) + 1)


def node_roles(release: Release) -> dict[str, str]:
    roles = {release.spec.dispatcher.node: "dispatcher"}
    roles.update({s.node: f"stage {s.index}" for s in release.plan.stages})
    return roles


def usage_per_inference(spent: Sample, answered: int, roles: dict[str, str]) -> tuple[NodeUsage, ...]:
    """Per node with a role: CPU seconds and bytes sent, divided by the answered inferences."""
    if answered <= 0:
        return ()
    return tuple(
        NodeUsage(node, role, spent.cpu_s.get(node, 0.0) / answered, spent.sent_bytes.get(node, 0) / answered)
        for node, role in sorted(roles.items(), key=lambda kv: (kv[1] != "dispatcher", kv[1]))
    )


@contextlib.contextmanager
def running_release(
    build: Callable[[str], Release], tag: str, settings: BenchSettings, say: Say
) -> Iterator[tuple[Release, RunningPipeline]]:
    """Build the release under a pipeline name derived from `tag` and run it on the emulated network.

    The emulator's subnet comes from the pipeline name; if another engineer's pipeline already uses that
    subnet, the name gets a suffix and the run is tried again.
    """
    for attempt in range(NAME_ATTEMPTS):
        name = f"cb-{tag}" + (f"-{attempt}" if attempt else "")
        release = build(name)
        options = LocalOptions(
            run_dir=settings.run_dir / name,
            emulate_network=True,
            ready_timeout_s=settings.ready_timeout_s,
            limits=settings.limits,
            cpu_speed=settings.cpu_speed,
            dilation=settings.dilation,
        )
        stack = contextlib.ExitStack()
        try:
            running = stack.enter_context(run_local(release, options, stream=sys.stderr))
        except netns.EmulatorError as error:
            if "already routes" not in str(error) or attempt == NAME_ATTEMPTS - 1:
                raise
            say(f"  subnet of {name} is taken ({error}); renaming")
            continue
        with stack:
            yield release, running
        return


def _builder(
    settings: BenchSettings, workers: int, codec: Any, model: BenchModel, say: Say
) -> Callable[[str], Release]:
    shape = replace(settings.shape, workers=workers)

    def build(name: str) -> Release:
        spec = build_spec(
            name, shape, model, RunChoices(codec=codec, deadline=settings.deadline), settings.base_dir
        )
        release = build_release(spec, progress=lambda m: say(f"  {m}"))
        if settings.emulate_medium and settings.emulate_medium != spec.cluster.medium:  # a plan on other air
            emulated = replace(spec.cluster, medium=settings.emulate_medium)
            release = replace(release, spec=replace(release.spec, cluster=emulated))
        return release

    return build


def measure(
    experiment: str,
    workers: int,
    codec: Any,
    settings: BenchSettings,
    say: Say,
    model: BenchModel | None = None,
) -> RunResult:
    """Run one configuration and measure it: unloaded latency, then a steady stream of requests."""
    model = model or settings.model
    label = codec_label(codec)
    tag = f"{experiment[:4]}{workers}-{label}-{model.label.lower()[:9]}"
    say(f"[{experiment}] {model.label} on {workers} worker(s), codec {label}: building and starting")
    with running_release(_builder(settings, workers, codec, model, say), tag, settings, say) as (
        rel,
        running,
    ):
        plan = rel.plan
        shape = tuple(rel.profile.input_shape)
        streamer = Streamer(
            running.dispatcher_url, rel.spec.name, rel.profile.input_name, bench_inputs(shape)
        )
        k = running.time_factor
        unloaded = streamer.run(UNLOADED_REQUESTS, 1, timeout_s=120.0 * k)
        concurrency = concurrency_for(rel)
        count = request_count(plan.throughput_per_s / k, concurrency, settings)
        say(f"  plan {' -> '.join(s.node for s in plan.stages)}: predicted {plan.throughput_per_s:.2f}/s;"
            f" sending {count} requests, {concurrency} in flight"
            + (f" (dilated x{k:g})" if k != 1 else ""))  # fmt: skip
        before = sample(running)
        loaded = streamer.run(count, concurrency, on_outcome=_progress(say, count), timeout_s=120.0 * k)
        after = sample(running)
        load = os.getloadavg()[0]
        counters = dispatcher_counters(running.dispatcher_url)
        oom_kills = running.oom_kills()
        quotas = dict(running.quotas)
    answered = len(loaded.answered)
    finished = [o.finished for o in loaded.answered]
    steady = (
        full_pipeline_throughput(finished, concurrency) if settings.full_window else loaded.throughput_per_s
    )
    usage = usage_per_inference(delta(before, after), answered, node_roles(rel))
    result = RunResult(
        experiment=experiment,
        model=model.label,
        workers=workers,
        codec=label,
        stages=len(plan.stages),
        placement=" > ".join(f"{s.node}[{s.first_block}-{s.last_block}]" for s in plan.stages),
        bottleneck=plan.bottleneck,
        predicted_per_s=plan.throughput_per_s,
        measured_per_s=steady * k,
        predicted_latency_s=plan.latency_s,
        unloaded_latency_s=unloaded.latency_s(0.5) / k,
        latency_median_s=loaded.latency_s(0.5) / k,
        latency_p95_s=loaded.latency_s(0.95) / k,
        requests=count,
        answered=answered,
        failed=count - answered,
        resends=counters.get("seifer_dispatcher_resends_total", float("nan")),
        duplicates=counters.get("seifer_dispatcher_duplicates_total", float("nan")),
        usage=usage,
        planned_input_bytes=plan.stages[0].bytes_in,
        host_load=load,
        dilation=k,
        oom_kills=oom_kills,
        raw_measured_per_s=loaded.throughput_per_s,
        node_time_s=tuple((u.node, u.cpu_s / quotas[u.node] / k) for u in usage if quotas.get(u.node)),
        node_plan_s=tuple((s.node, s.compute_s + s.overhead_s) for s in plan.stages),
    )
    say(f"  measured {result.measured_per_s:.2f}/s (x{result.ratio:.2f} of predicted),"
        f" median latency {result.latency_median_s * 1e3:.0f} ms, {answered}/{count} answered,"
        f" host load {load:.1f}" + (f", dilation x{k:g} (scaled back)" if k != 1 else "")
        + (f", {oom_kills} OOM kills" if oom_kills else ""))  # fmt: skip
    return result


def _progress(say: Say, total: int) -> Callable[[Outcome, int], None]:
    step = max(1, total // 4)

    def show(_: Outcome, done: int) -> None:
        if done % step == 0 or done == total:
            say(f"    {done}/{total} answered or failed")

    return show


# node loss ----------------------------------------------------------------------------------------------


def choose_move(release: Release, lock_spec_path: Path) -> tuple[failover.Move, str, float]:
    """Which stage to lose (the middle one), where it goes, how that was decided, and the new prediction.

    Re-plans with the node removed, honouring a plan lock written for the running plan, so the stability
    rule moves only the lost stage; if the re-plan moved anything else (which the emulated take-over could
    not do without restarting other stages), the stage goes to its first `Stage.backups` node instead.
    """
    plan = release.plan
    victim = plan.stages[(len(plan.stages) + 1) // 2 - 1]
    write_lock(lock_path(lock_spec_path), plan)
    spec = replace(release.spec, source_path=str(lock_spec_path))
    replanned = plan_for_spec(spec, release.profile, without=(victim.node,))
    others_kept = len(replanned.stages) == len(plan.stages) and all(
        (a.first_block, a.last_block, a.node) == (b.first_block, b.last_block, b.node)
        for a, b in zip(plan.stages, replanned.stages, strict=True)
        if a.index != victim.index
    )
    same_blocks = others_kept and replanned.stages[victim.index - 1].first_block == victim.first_block
    if same_blocks:
        target = replanned.stages[victim.index - 1].node
        backups = ", ".join(victim.backups) or "none"
        how = (
            f"re-planned without {victim.node} (plan lock: {replanned.algorithm}); only stage {victim.index}"
            f" moved, to {target} (its Stage.backups: {backups})"
        )
        predicted = replanned.throughput_per_s
    else:
        if not victim.backups:
            raise RuntimeError(f"stage {victim.index} on {victim.node} has no backup node to move to")
        target = victim.backups[0]
        how = f"re-plan moved other stages too; stage {victim.index} moved to Stage.backups[0] = {target}"
        predicted = float("nan")
    pod = f"{release.spec.name}-stage-{victim.index}"
    return failover.Move(victim.index, pod, victim.node, target, ""), how, predicted


def longest_gap(outcomes: tuple[Outcome, ...], start: float, end: float) -> float:
    """Longest stretch without an answer between `start` and `end` (perf_counter seconds)."""
    times = sorted([start, *(o.finished for o in outcomes if o.ok and start <= o.finished <= end), end])
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def wrong_answers(outcomes: tuple[Outcome, ...]) -> int:
    """Answers whose digest differs from the most common answer to the same input."""
    by_input: dict[int, list[str]] = {}
    for o in outcomes:
        if o.ok:
            by_input.setdefault(o.input_index, []).append(o.digest)
    return sum(len(d) - d.count(statistics.mode(d)) for d in by_input.values())


def node_loss(workers: int, codec: Any, settings: BenchSettings, say: Say) -> LossResult:
    """Stream requests, lose the middle stage's node a quarter of the way in, let its backup take over."""
    label = codec_label(codec)
    say(f"[node-loss] {settings.model.label} on {workers} workers, codec {label}: building and starting")
    build = _builder(settings, workers, codec, settings.model, say)
    with running_release(build, f"loss{workers}-{label}", settings, say) as (rel, running):
        assert running.emulator is not None
        run_dir = settings.run_dir / rel.spec.name
        move, how, predicted_after = choose_move(rel, run_dir / f"{rel.spec.name}.pipeline.yaml")
        move = replace(move, address=running.emulator.address_of(move.lost))
        total = settings.loss_requests
        concurrency = concurrency_for(rel)
        trigger = threading.Event()
        show = _progress(say, total)

        def on_outcome(outcome: Outcome, done: int) -> None:
            if done >= total // 4:
                trigger.set()
            show(outcome, done)

        streamer = Streamer(
            running.dispatcher_url,
            rel.spec.name,
            rel.profile.input_name,
            bench_inputs(tuple(rel.profile.input_shape)),
        )
        holder: dict[str, Any] = {}
        worker = threading.Thread(
            target=lambda: holder.update(result=streamer.run(total, concurrency, on_outcome=on_outcome)),
            daemon=True,
        )
        counters_before = dispatcher_counters(running.dispatcher_url)
        began = time.perf_counter()
        worker.start()
        while not trigger.wait(0.5) and worker.is_alive():
            pass
        lost_at = time.perf_counter()
        say(f"  losing {move.lost} (stage {move.stage}): link down, process killed, namespace deleted")
        failover.lose_node(running, move)
        say(f"  {how}; starting it there behind {move.address}")
        with failover.take_over(running, rel.spec.cluster, move, run_dir / "moved", settings.ready_timeout_s):
            ready_at = time.perf_counter()
            say(f"  stage {move.stage} ready on {move.target} {ready_at - lost_at:.1f} s after the loss")
            worker.join()
            ended = time.perf_counter()
            counters = dispatcher_counters(running.dispatcher_url)
    result = holder["result"]
    outcomes = result.outcomes
    answered = [o for o in outcomes if o.ok]
    before = [o.finished for o in answered if o.finished < lost_at]
    after = [o.finished for o in answered if o.finished > ready_at]
    return LossResult(
        workers=workers,
        codec=label,
        stage=move.stage,
        lost=move.lost,
        target=move.target,
        how=how,
        requests=total,
        answered=len(answered),
        failed=sum(1 for o in outcomes if o.status not in (0, 200)),
        no_answer=total - len(answered) - sum(1 for o in outcomes if o.status not in (0, 200)),
        duplicates_dropped=_grew(counters_before, counters, "seifer_dispatcher_duplicates_total"),
        resends=_grew(counters_before, counters, "seifer_dispatcher_resends_total"),
        wrong_answers=wrong_answers(outcomes),
        before_per_s=steady_throughput(before, concurrency),
        after_per_s=steady_throughput(after, 1),
        predicted_before_per_s=rel.plan.throughput_per_s,
        predicted_after_per_s=predicted_after,
        takeover_s=ready_at - lost_at,
        longest_gap_s=longest_gap(tuple(outcomes), began, ended),
    )


def _grew(before: dict[str, float], after: dict[str, float], name: str) -> float:
    if name not in after:
        return float("nan")
    return after[name] - before.get(name, 0.0)


# plan-only spread over seeds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GainSpread:
    """Predicted throughput of n workers over one worker, across seeded clusters (planner only)."""

    workers: int
    seeds: int
    median_gain: float
    low_gain: float  # 25th percentile
    high_gain: float  # 75th percentile
    improved_share: float  # seeds where n workers beat one by more than 1 %
    median_stages: float


def predicted_spread(sizes: tuple[int, ...], seeds: int, settings: BenchSettings) -> tuple[GainSpread, ...]:
    """How the planner's throughput grows with cluster size over `seeds` seeded clusters (no processes).

    One measured seed is an anecdote (the gain jumps when a node lands near the gateway); this shows the
    spread the same generator gives, from the same cost model whose predictions the runs check.
    """
    base_seed = settings.shape.seed
    profile = None
    gains: dict[int, list[float]] = {n: [] for n in sizes}
    stages: dict[int, list[int]] = {n: [] for n in sizes}
    for seed in range(base_seed, base_seed + seeds):
        throughput = {}
        for n in sorted({1, *sizes}):
            shape = replace(settings.shape, workers=n, seed=seed)
            spec = build_spec("cb-spread", shape, settings.model, RunChoices(), settings.base_dir)
            profile = profile or profile_for_source(spec.model)
            plan = plan_spec(spec, profile, use_lock=False)
            throughput[n] = plan.throughput_per_s
            if n in stages:
                stages[n].append(len(plan.stages))
        for n in sizes:
            gains[n].append(throughput[n] / throughput[1] - 1.0)
    spread = []
    for n in sizes:
        ordered = sorted(gains[n])
        quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
        spread.append(
            GainSpread(
                workers=n,
                seeds=seeds,
                median_gain=statistics.median(ordered),
                low_gain=quartiles[0],
                high_gain=quartiles[2],
                improved_share=sum(1 for g in ordered if g > 0.01) / len(ordered),
                median_stages=statistics.median(stages[n]),
            )
        )
    return tuple(spread)


# the whole benchmark ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiments:
    """Which experiments to run (the CLI fills it from --quick and the options)."""

    sizes: tuple[int, ...]
    codec_workers: int
    codecs: tuple[Any, ...]
    sweep_codec: Any = "none"
    loss_workers: int | None = 4
    resnet_sizes: tuple[int, ...] = ()
    spread_seeds: int = 0
    compute_sizes: tuple[int, ...] = ()  # the compute-bound sweep (Pi-class nodes, node speeds enforced)
    compute_model: BenchModel = field(default_factory=lambda: BenchModel(application="ResNet50", seed=0))
    compute_codec: Any = "none"
    dilation_check: float = 0.0  # > 1: run one sweep size again at this k and compare it with k=1


@dataclass(frozen=True)
class Results:
    runs: tuple[RunResult, ...]
    loss: LossResult | None
    seconds: float
    spread: tuple[GainSpread, ...] = ()
    loss_error: str = ""

    def by(self, experiment: str) -> tuple[RunResult, ...]:
        return tuple(r for r in self.runs if r.experiment == experiment)


def run_all(
    plan: Experiments,
    settings: BenchSettings,
    say: Say,
    resnet_shape: ClusterShape | None = None,
    compute_shape: ClusterShape | None = None,
) -> Results:
    """Every experiment of `plan`, in order; a sweep run at the codec size and codec is reused."""
    started = time.perf_counter()
    runs: list[RunResult] = []
    if plan.compute_sizes:
        computed = replace(
            settings,
            shape=compute_shape or settings.shape,
            cpu_speed=settings.limits,
            model=plan.compute_model,
        )
        for workers in plan.compute_sizes:
            runs.append(measure("compute", workers, plan.compute_codec, computed, say))
        if plan.dilation_check > 1:
            workers = 4 if 4 in plan.compute_sizes else max(plan.compute_sizes)
            dilated = replace(computed, dilation=plan.dilation_check)
            runs.append(measure("dilation", workers, plan.compute_codec, dilated, say))
    for workers in plan.sizes:
        runs.append(measure("size", workers, plan.sweep_codec, settings, say))
    for codec in plan.codecs:
        reused = next(
            (r for r in runs if r.workers == plan.codec_workers and r.codec == codec_label(codec)), None
        )
        if reused is not None:
            runs.append(dataclasses.replace(reused, experiment="codec"))
        else:
            runs.append(measure("codec", plan.codec_workers, codec, settings, say))
    if plan.resnet_sizes:
        resnet = BenchModel(application="ResNet50", seed=0)
        shaped = replace(settings, shape=resnet_shape or settings.shape)
        for workers in plan.resnet_sizes:
            runs.append(measure("resnet50", workers, plan.sweep_codec, shaped, say, model=resnet))
    loss, loss_error = None, ""
    if plan.loss_workers:
        try:
            loss = node_loss(plan.loss_workers, plan.sweep_codec, settings, say)
        except (OSError, RuntimeError, netns.EmulatorError) as error:  # keep the measured runs' report
            loss_error = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            say(f"  node-loss run failed: {loss_error}")
    spread = ()
    if plan.spread_seeds:
        say(
            f"[spread] planning {len(plan.sizes)} sizes on {plan.spread_seeds} seeded clusters (no processes)"
        )
        spread = predicted_spread(tuple(n for n in plan.sizes if n > 1), plan.spread_seeds, settings)
    return Results(tuple(runs), loss, time.perf_counter() - started, spread, loss_error)
