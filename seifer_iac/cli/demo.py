"""The demo `make demo` runs: real requests through the running dispatcher, answers checked against the
unsplit model, measured throughput and latency printed next to the plan's prediction."""

from __future__ import annotations

from collections.abc import Callable

import click
import numpy as np

from seifer_iac.bench.load import drive, undilated
from seifer_iac.local.cgroups import vm_hwm_bytes
from seifer_iac.local.runner import RunningPipeline
from seifer_iac.release import Release

CHECKED_ANSWERS = 3
MIB = 2**20
QUANTITY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def memory_limits(manifests: tuple[dict, ...]) -> dict[str, int]:
    """Deployment name -> its container's memory limit in bytes (the manifests write whole Ki/Mi/Gi)."""
    limits = {}
    for obj in manifests:
        if obj.get("kind") != "Deployment":
            continue
        quantity = obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
        limits[obj["metadata"]["name"]] = int(quantity[:-2]) * QUANTITY_UNITS[quantity[-2:]]
    return limits


def memory_lines(release: Release, running: RunningPipeline) -> list[str]:
    """One line per process: its measured peak next to the limit its Deployment sets."""
    limits = memory_limits(release.manifests)
    lines = []
    for status in running.supervisor.status():
        limit = limits.get(status.name)
        peak = vm_hwm_bytes(status.pid) if status.pid else None
        if limit is None or peak is None:
            continue
        verdict = "within" if peak <= limit else "OVER"
        lines.append(
            f"memory       {status.name}: peak {peak / MIB:.0f} MiB of a {limit / MIB:.0f} MiB limit "
            f"({peak / limit:.0%}, {verdict})"
        )
    return lines


def demo_input(shape: tuple[int, ...], index: int) -> np.ndarray:
    """A reproducible input per request index (float32 in [-1, 1], the range keras.applications expect)."""
    rng = np.random.default_rng(index)
    return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)


def node_busy_ms(running: RunningPipeline, before: dict[str, float], answered: int) -> dict[str, float]:
    """Per node with a CPU quota: milliseconds of its time one inference took (CPU seconds / quota),
    scaled back by the dilation: what a node of the spec's speed spends, compute and I/O alike."""
    if not running.quotas or answered <= 0:
        return {}
    after = running.node_cpu_seconds()
    quotas = dict(running.quotas)
    return {
        node: (after[node] - before.get(node, 0.0)) / quotas[node] / answered * 1000 / running.time_factor
        for node in after
        if quotas.get(node)
    }


def run_demo(
    release: Release, running: RunningPipeline, requests: int, emulated: bool, say: Callable[[str], None]
) -> bool:
    """True when every request was answered and the checked answers match the unsplit model."""
    from seifer_iac.release import model_of as reference_model

    spec, plan, profile = release.spec, release.plan, release.profile
    shape = tuple(profile.input_shape)
    say(f"building the unsplit {spec.model.label} to check answers")
    model = reference_model(spec)
    expected = {i: np.asarray(model.predict_on_batch(demo_input(shape, i))) for i in range(CHECKED_ANSWERS)}
    answers: dict[int, np.ndarray] = {}

    def keep(index: int, output: np.ndarray) -> None:
        if index in expected:
            answers[index] = output

    def show(done: int, total: int) -> None:
        if done % max(1, total // 10) == 0 or done == total:
            say(f"  answered {done}/{total}")

    concurrency = 2 * (len(plan.stages) + 1)
    say(f"sending {requests} requests, {concurrency} in flight, to {running.dispatcher_url}")
    cpu_before = running.node_cpu_seconds()
    result = drive(
        running.dispatcher_url,
        spec.name,
        lambda i: demo_input(shape, i),
        requests,
        concurrency,
        timeout_s=max(60.0, spec.dispatcher.deadline_s * 3) * running.time_factor,
        on_answer=keep,
        progress=show,
    )
    busy = node_busy_ms(running, cpu_before, result.answered)
    k = running.time_factor
    if k != 1.0:
        say(
            f"measured (dilated x{k:g}): {result.throughput_per_s:.3f}/s, "
            f"median {result.latency_median_s:.3f} s"
        )
        result = undilated(result, k)
    worst = max((float(np.max(np.abs(answers[i] - expected[i]))) for i in answers), default=float("nan"))
    ratio = result.throughput_per_s / plan.throughput_per_s if plan.throughput_per_s else float("nan")
    click.echo("")
    click.echo(
        f"requests     {result.answered}/{result.requests} answered, {len(result.errors)} errors, "
        f"{result.seconds:.1f} s"
    )
    click.echo(
        f"throughput   measured {result.throughput_per_s:.2f}/s   predicted {plan.throughput_per_s:.2f}/s"
        f"   (measured/predicted {ratio:.2f})"
        + (f"   [{running.dilation.label}]" if running.dilation else "")
    )
    click.echo(
        f"latency      measured median {result.latency_median_s * 1000:.0f} ms, "
        f"p95 {result.latency_p95_s * 1000:.0f} ms   predicted {plan.latency_s * 1000:.0f} ms "
        f"(unloaded)"
    )
    click.echo(
        f"answers      {len(answers)} checked against the unsplit model: max abs difference {worst:.2e}"
    )
    memory = memory_lines(release, running)
    for line in memory:
        click.echo(line)
    if not emulated:
        click.echo(
            "note         links ran on loopback (no bandwidth limits) and every stage shared this "
            "machine's CPU: the prediction is for the spec's nodes and links"
        )
    else:
        click.echo(
            "note         links were rate-limited to the spec's bandwidths; "
            + (
                "compute ran at the spec's node speeds (a CPU quota per node)"
                if running.quotas
                else "compute ran on this machine's CPU, not at the spec's node speeds"
            )
        )
    if busy:
        click.echo(
            "node time    per inference (CPU used / CPU quota): "
            + ", ".join(f"{node} {ms:.0f} ms" for node, ms in sorted(busy.items(), key=lambda kv: -kv[1]))
            + f"; the busiest node bounds the rate at {1000 / max(busy.values()):.2f}/s"
        )
    if running.oom_kills():
        click.echo(f"OOM kills    {running.oom_kills()} (a stage went over its memory limit; see above)")
    for error in result.errors[:5]:
        say(f"error: {error}")
    lossless = spec.runtime.codec.name in ("none", "lz4")
    correct = bool(answers) and (worst <= 1e-4 or not lossless)
    fits = not any("OVER" in line for line in memory)
    return not result.errors and result.answered == result.requests and correct and fits
