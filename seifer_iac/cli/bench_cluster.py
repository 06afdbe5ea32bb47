"""`seifer bench cluster`: the research's systems experiments on the cluster emulator, with real requests.

Thin shell over seifer_iac.bench.cluster (runs) and cluster_report (tables, CSV, PNG).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import click

QUICK_SIZES = (1, 2, 4)
FULL_SIZES = (1, 2, 4, 8, 12, 16, 20)
COMPUTE_SIZES = (1, 2, 4, 8, 16)
CODECS = (
    "none",
    "lz4",
    {"name": "zfp", "mode": "rate", "rate": 16},
    {"name": "zfp", "mode": "rate", "rate": 8},
)


def _sizes(text: str | None, quick: bool, full: tuple[int, ...] = FULL_SIZES) -> tuple[int, ...]:
    if not text:
        return QUICK_SIZES if quick else full
    try:
        sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected comma-separated worker counts like 1,2,4") from None
    if not sizes or sizes[0] < 1 or sizes[-1] > 20:
        raise click.BadParameter("worker counts must be within 1..20")
    return sizes


@click.command("cluster")
@click.option("--quick", is_flag=True, help="1, 2 and 4 workers and shorter runs: a few minutes.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs/bench-cluster"),
    show_default=True,
    help="Where cluster.csv/.png/.md go.",
)
@click.option("--sizes", default=None, help="Worker counts to sweep, e.g. 1,2,4,8 [default: 1,2,4 quick; "
              "1,2,4,8,12,16,20 otherwise].")  # fmt: skip
@click.option(
    "--codec-workers",
    type=click.IntRange(1, 20),
    default=4,
    show_default=True,
    help="Cluster size of the codec comparison and the node-loss run.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the node positions.")
@click.option(
    "--resnet50/--no-resnet50",
    default=None,
    help="Also ResNet50 on 1 and 8 workers (default: on unless --quick).",
)
@click.option("--no-loss", is_flag=True, help="Skip the node-loss run.")
@click.option(
    "--compute-sizes",
    default=None,
    help="Worker counts of the compute-bound sweep [default: 1,2,4 quick; 1,2,4,8,16 otherwise].",
)
@click.option("--no-compute", is_flag=True, help="Skip the compute-bound sweep.")
@click.option(
    "--compute-only", is_flag=True, help="Only the compute-bound sweep (no link-bound experiments)."
)
@click.option(
    "--compute-model",
    type=click.Choice(["ResNet50", "MobileNetV2"]),
    default="ResNet50",
    show_default=True,
    help="Model of the compute-bound sweep (ResNet50: the research's 8-node configuration).",
)
@click.option(
    "--pi-speed", default="4GFLOPS", show_default=True, help="Speed of a Raspberry-Pi-class worker."
)
@click.option(
    "--gateway-speed", default="10GFLOPS", show_default=True, help="Speed of the dispatcher's node."
)
@click.option("--wifi", default="50Mbps", show_default=True, help="Bandwidth of every link in the sweep.")
@click.option(
    "--dilation-check",
    type=click.FloatRange(0, 100),
    default=2.0,
    show_default=True,
    help="Run the sweep's 4-worker cluster again at this k and compare it with k=1 (0: skip).",
)
@click.option(
    "--dilation",
    default="auto",
    show_default=True,
    help="Time dilation k of the compute-bound sweep: auto (from this host's cores) or a number >= 1.",
)
@click.option(
    "--media/--no-media",
    default=None,
    help="Also a switched and a shared medium (one Wi-Fi channel's airtime), predicted against measured"
    " (default: on unless --quick or --compute-only).",
)
@click.option("--media-only", is_flag=True, help="Only the switched/shared medium comparison (~7 min).")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Logs and weights of the runs [default: ~/.local/state/seifer/bench-cluster].",
)
def command(
    quick: bool, out_dir: Path, sizes: str | None, codec_workers: int, seed: int, resnet50: bool | None,
    no_loss: bool, compute_sizes: str | None, no_compute: bool, compute_only: bool, compute_model: str,
    pi_speed: str, gateway_speed: str, wifi: str, dilation_check: float, dilation: str, media: bool | None,
    media_only: bool, run_dir: Path | None,
) -> None:  # fmt: skip
    """Throughput and latency against cluster size, measured against predicted throughput, the codecs,
    CPU seconds and bytes sent per inference per node, and a node loss taken over by the plan's backup,
    all with real HTTP requests through the dispatcher on an emulated network (needs root).

    Clusters: a gateway (dispatcher, no stages) at the centre of a 150 m square and N workers placed by a
    seeded draw (nested: N workers are the first N of the draw), links log2(1 + 283230/d^2) Mbit/s,
    worker 1 with memory for the whole model and the others for about half of it. MobileNetV2 (seed 7),
    planner objective "communication", codec none unless compared.

    The compute-bound sweep (as root with cgroups) enforces what the nodes are: every pod gets its
    manifest's memory limit, every node a CPU quota that makes it as fast as --pi-speed (the host's speed
    is calibrated once on the model's blocks), all links --wifi, planner objective "full"; when the nodes
    need more CPU than this host has, the run is time-dilated by k and the figures scaled back. ResNet50 on
    8 nodes against one is set beside DEFER's +53 %.

    \b
    Examples:
      seifer bench cluster --quick
      seifer bench cluster --out docs/bench-cluster
      seifer bench cluster --compute-only --compute-sizes 1,2,4,8,16
      seifer bench cluster --media-only --out docs/bench-media
    """
    from seifer_iac.bench import cluster as cb
    from seifer_iac.bench import cluster_media as cm
    from seifer_iac.bench import cluster_report as report
    from seifer_iac.bench.cluster_gen import BenchModel, ClusterShape
    from seifer_iac.local import cgroups, netns

    with_media = media_only or (not quick and not compute_only if media is None else media)
    ok, reason = netns.available()
    if not ok:
        click.echo(f"error: the cluster benchmark needs the network emulator: {reason}", err=True)
        sys.exit(2)
    aired_ok, why_not = netns.available("shared") if with_media else (True, "")
    if not aired_ok and (media_only or media):
        click.echo(f"error: the media comparison needs the emulator's shared medium: {why_not}", err=True)
        sys.exit(2)
    if not aired_ok:
        click.echo(f"switched/shared medium comparison skipped: {why_not}", err=True)
        with_media = False
    try:
        factor = None if dilation == "auto" else float(dilation)
    except ValueError:
        factor = 0.0
    if factor is not None and not 1.0 <= factor <= 1000.0:
        raise click.BadParameter(
            f"{dilation!r}: give auto or a number from 1 to 1000", param_hint="--dilation"
        )
    limited, why = cgroups.available()
    click.echo(f"node limits: {why}" if limited else f"node limits not enforced: {why}", err=True)
    if compute_only and (no_compute or not limited):
        click.echo(
            "error: --compute-only needs the compute sweep, which needs node limits (root, cgroups)", err=True
        )
        sys.exit(2)
    compute_only = compute_only or media_only  # --media-only: no other link-bound experiment either
    chosen = () if compute_only else _sizes(sizes, quick)
    with_resnet = (not quick) if resnet50 is None else resnet50
    compute = () if no_compute or media_only or not limited else _sizes(compute_sizes, quick, COMPUTE_SIZES)
    experiments = cb.Experiments(
        sizes=chosen,
        codec_workers=codec_workers,
        codecs=() if compute_only else CODECS,
        loss_workers=None if no_loss or compute_only else codec_workers,
        resnet_sizes=(1, 8) if with_resnet and not compute_only else (),
        spread_seeds=0 if compute_only else 20 if quick else 50,
        compute_sizes=compute,
        compute_model=BenchModel(application=compute_model, seed=0 if compute_model == "ResNet50" else 7),
        dilation_check=dilation_check if factor in (None, 1.0) else 0.0,
    )
    settings = cb.BenchSettings(
        run_dir=run_dir or Path.home() / ".local" / "state" / "seifer" / "bench-cluster",
        shape=ClusterShape(workers=1, seed=seed),
        target_s=10.0 if quick else 20.0,
        min_requests=12 if quick else 16,
        max_requests=40 if quick else 80,
        loss_requests=40 if quick else 60,
        limits=limited,
        dilation=factor,
    )
    compute_shape = ClusterShape(
        workers=1,
        seed=seed,
        big_memory="1Gi",
        uniform_memory=True,
        worker_speed=pi_speed,
        gateway_speed=gateway_speed,
        fixed_bandwidth=wifi,
        objective="full",
    )
    # ResNet50 needs ~100 MiB of weights: "small" workers hold about half of it, worker 1 all of it.
    resnet_shape = ClusterShape(workers=1, seed=seed, big_memory="640Mi", small_memory="400Mi")
    started = time.perf_counter()

    def say(message: str) -> None:
        click.echo(f"[{time.perf_counter() - started:6.0f}s] {message}", err=True)

    try:
        results = cb.run_all(
            experiments, settings, say, resnet_shape=resnet_shape, compute_shape=compute_shape
        )
        aired = cm.run_media(cm.DEFAULT_CASES if with_media else (), settings, say)
    except (netns.EmulatorError, RuntimeError, OSError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    invoked = "seifer bench cluster " + " ".join(sys.argv[sys.argv.index("cluster") + 1 :]) \
        if "cluster" in sys.argv else "seifer bench cluster"  # fmt: skip
    results = replace(
        results, runs=results.runs + tuple(m.run for m in aired), seconds=time.perf_counter() - started
    )
    lines = [*report.report_lines(results, invoked.strip()), *cm.media_lines(aired)]
    for line in lines:
        click.echo(line)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = report.write_csv(results, out_dir / "cluster.csv")
    png_path = report.plot(results, out_dir / "cluster.png") if not compute_only else None
    compute_png = report.plot_compute(results, out_dir / "compute.png")
    md_path = out_dir / "cluster.md"
    md_path.write_text("\n".join(["# seifer bench cluster", "", *lines]) + "\n")
    written = ", ".join(str(p) for p in (csv_path, png_path, compute_png, md_path) if p)
    click.echo(f"\nwrote {written}")
