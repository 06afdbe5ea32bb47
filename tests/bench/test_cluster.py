"""`seifer bench cluster`: the pure parts (clusters, parsers, tables) and one small real emulated run."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from seifer_iac.bench import cluster_report as report
from seifer_iac.bench.cluster import (
    BenchSettings,
    GainSpread,
    LossResult,
    NodeUsage,
    Results,
    RunResult,
    longest_gap,
    measure,
    parse_counters,
    predicted_spread,
    request_count,
    wrong_answers,
)
from seifer_iac.bench.cluster_gen import (
    GATEWAY,
    BenchModel,
    ClusterShape,
    RunChoices,
    build_spec,
    codec_label,
    positions,
    spec_data,
    wifi_bits_per_s,
)
from seifer_iac.local import cgroups, netns
from seifer_iac.local.failover import takeover_commands
from seifer_iac.local.stream import Outcome, steady_throughput
from seifer_iac.local.usage import Sample, cpu_ticks_from_stat, delta, htb_sent_bytes

# clusters ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2, 4, 8, 20])
def test_generated_spec_has_a_gateway_and_n_workers_with_every_pair_linked(workers):
    spec = build_spec("cb-test", ClusterShape(workers), BenchModel(), RunChoices())
    names = spec.cluster.node_names
    assert names[0] == GATEWAY and len(names) == workers + 1
    assert not spec.cluster.node(GATEWAY).schedulable
    assert spec.dispatcher.node == GATEWAY
    assert spec.planner.objective == "communication"
    for a in names:
        for b in names:
            if a != b:
                rate = spec.cluster.bandwidth(a, b)
                assert rate == spec.cluster.bandwidth(b, a)
                assert 2.5e6 < rate < 20e6  # the Wi-Fi model over a 150 m square


def test_worker_one_is_big_and_the_others_small():
    spec = build_spec("cb-test", ClusterShape(3), BenchModel(), RunChoices())
    memory = [spec.cluster.node(n).memory_bytes for n in ("n01", "n02", "n03")]
    assert memory[0] > memory[1] == memory[2]


def test_clusters_are_seeded_and_nested():
    small, big = positions(ClusterShape(4, seed=3)), positions(ClusterShape(8, seed=3))
    assert all(big[name] == where for name, where in small.items())
    assert positions(ClusterShape(4, seed=3)) == small
    assert positions(ClusterShape(4, seed=4)) != small
    assert small[GATEWAY] == (75.0, 75.0)
    assert spec_data("a", ClusterShape(5), BenchModel(), RunChoices()) == spec_data(
        "a", ClusterShape(5), BenchModel(), RunChoices()
    )


def test_wifi_model_matches_the_research_formula():
    assert wifi_bits_per_s(100.0) == pytest.approx(math.log2(1 + 28.323) * 1e6)
    assert wifi_bits_per_s(0.0) == wifi_bits_per_s(1.0)  # clamped, never infinite


def test_fixed_bandwidth_and_model_file():
    model = BenchModel(application=None, file="tiny.keras", input_shape=(512,))
    data = spec_data("t", ClusterShape(2, fixed_bandwidth="1Mbps"), model, RunChoices(codec="lz4"))
    assert data["cluster"]["bandwidth"] == {"default": "1Mbps"}
    assert data["model"] == {"version": "1", "inputShape": [512], "file": "tiny.keras"}


def test_bad_worker_count_is_refused():
    with pytest.raises(ValueError, match=r"1\.\.20"):
        ClusterShape(21)


def test_codec_labels():
    assert codec_label("lz4") == "lz4"
    assert codec_label({"name": "zfp", "mode": "rate", "rate": 8}) == "zfp8"


# parsers -------------------------------------------------------------------------------------------------


def test_cpu_ticks_are_read_after_the_last_parenthesis():
    stat = "4242 (python) x (y)) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 9 0 100 0 0"
    assert cpu_ticks_from_stat(stat) == 1234 + 56


TC_OUTPUT = """\
class htb 1:b root leaf b: prio 0 rate 6834Kbit ceil 6834Kbit burst 1599b cburst 1599b
 Sent 1234567 bytes 890 pkt (dropped 0, overlimits 12 requeues 0)
 backlog 0b 0p requeues 0
 lended: 890 borrowed: 0 giants: 0
class htb 1:c root leaf c: prio 0 rate 5Mbit ceil 5Mbit burst 1600b cburst 1600b
 Sent 42 bytes 1 pkt (dropped 0, overlimits 0 requeues 0)
"""


def test_tc_class_counters():
    assert htb_sent_bytes(TC_OUTPUT) == {"1:b": 1234567, "1:c": 42}
    assert htb_sent_bytes("") == {}


def test_usage_delta_skips_what_is_missing_on_either_side():
    spent = delta(Sample({"a": 1.0, "b": 2.0}, {"a": 10}), Sample({"a": 1.5, "c": 9.0}, {"a": 25, "b": 3}))
    assert spent == Sample({"a": 0.5}, {"a": 15})


def test_prometheus_counters_are_summed_over_labels():
    text = '# HELP x\nseifer_dispatcher_resends_total 3\nseifer_rejected_total{reason="a"} 1\n'
    text += 'seifer_rejected_total{reason="b"} 2.5\n'
    assert parse_counters(text) == {"seifer_dispatcher_resends_total": 3.0, "seifer_rejected_total": 3.5}


def test_steady_throughput_counts_from_the_full_pipeline():
    assert steady_throughput([0.0, 0.5, 1.0, 2.0, 3.0], concurrency=2) == pytest.approx(3 / 2.5)
    assert steady_throughput([1.0], concurrency=4) == 0.0


def _outcome(index, finished, status=200, digest="d", which=0):
    return Outcome(index, which, finished - 1.0, finished, status, digest)


def test_gaps_and_wrong_answers():
    outcomes = (_outcome(0, 1.0), _outcome(1, 2.0), _outcome(2, 7.0), _outcome(3, 8.0, status=504))
    assert longest_gap(outcomes, 0.0, 10.0) == pytest.approx(5.0)
    answers = (_outcome(0, 1, digest="x"), _outcome(1, 2, digest="x"), _outcome(2, 3, digest="y"))
    assert wrong_answers(answers) == 1


def test_request_count_is_bounded():
    settings = BenchSettings(run_dir=Path("/tmp"), target_s=10, min_requests=12, max_requests=40)
    assert request_count(0.5, 4, settings) == 12
    assert request_count(2.0, 6, settings) == 26
    assert request_count(100.0, 6, settings) == 40


def test_takeover_moves_the_address_and_rerates_links_to_the_backup():
    spec = build_spec("cb-test", ClusterShape(3), BenchModel(), RunChoices())
    config = netns.EmulatorConfig.from_cluster(spec.name, spec.cluster)
    cmds = takeover_commands(config, spec.cluster, "n02", "n03")
    lost_ip = config.address_of("n02")
    assert cmds[0] == ["ip", "-n", config.netns_of("n03"), "addr", "add", f"{lost_ip}/32", "dev", "eth0"]
    changes = [c for c in cmds if c[:1] == ["tc"]]
    assert {c[2] for c in changes} == {config.netns_of("gateway"), config.netns_of("n01")}
    gateway = next(c for c in changes if c[2] == config.netns_of("gateway"))
    assert gateway[gateway.index("classid") + 1] == "1:c"  # 10 + index of n02 (2), in hex
    assert gateway[gateway.index("rate") + 1] == f"{round(spec.cluster.bandwidth('gateway', 'n03'))}bit"
    assert sum(1 for c in cmds if "neigh" in c) == 4
    assert cmds[-1] == ["ip", "neigh", "flush", "to", lost_ip, "dev", config.host_link]


# tables and files ----------------------------------------------------------------------------------------


def _run(workers: int, measured: float, experiment: str = "size", codec: str = "none") -> RunResult:
    stages = [
        NodeUsage(f"n0{i + 1}", f"stage {i + 1}", 0.06 / workers, 4000.0) for i in range(min(workers, 2))
    ]
    usage = (NodeUsage("gateway", "dispatcher", 0.05, 1000.0), *stages)
    return RunResult(
        experiment, "MobileNetV2", workers, codec, min(workers, 2), "n01[0-74]", "link gateway -> n01",
        1.0 * workers, measured, 0.8, 0.9, 3.0, 4.0, 20, 20, 0, 0.0, 0.0, usage,
    )  # fmt: skip


def _results() -> Results:
    loss = LossResult(4, "none", 1, "n03", "n04", "re-planned", 40, 40, 0, 0, 0.0, 5.0, 0, 2.4, 1.3, 2.5, 1.4,
                      7.7, 10.1)  # fmt: skip
    runs = (_run(1, 0.95), _run(2, 1.9), _run(2, 1.8, "codec", "lz4"))
    return Results(runs, loss, 120.0, (GainSpread(2, 10, 0.2, 0.0, 0.5, 0.7, 2),))


def test_report_lines_have_every_experiment():
    lines = report.report_lines(_results(), "seifer bench cluster --quick")
    text = "\n".join(lines)
    assert "`seifer bench cluster --quick`" in text
    assert "| MobileNetV2 | 2 | none | 2 |" in text
    assert "2 workers +100% (predicted +100%)" in text
    assert "## Codecs on 2 workers (MobileNetV2)" in text and "## Node loss" in text
    assert "| input KiB planned | input KiB on the wire |" in text
    assert "-50% mean" in text  # 0.03 CPU s per stage node against 0.06 on one worker
    assert "| 2 | 10 | +20% | +0% .. +50% | 70% | 2 |" in text


def test_csv_has_a_row_per_run_per_node_and_the_loss(tmp_path):
    path = report.write_csv(_results(), tmp_path / "out" / "cluster.csv")
    rows = path.read_text().splitlines()
    assert rows[0].startswith("experiment,model,workers,codec")
    assert sum(1 for r in rows if r.startswith("size,")) == 2
    assert sum(1 for r in rows if r.startswith("size-usage,")) == 5
    assert any(r.startswith("node-loss,") for r in rows)
    assert any(r.startswith("plan-spread,") for r in rows)


def test_plot_is_written(tmp_path):
    path = report.plot(_results(), tmp_path / "cluster.png")
    assert path.stat().st_size > 10_000


# one real run --------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.netns
def test_a_small_real_run_measures_sane_figures(tmp_path, monkeypatch):
    ok, reason = netns.available()
    if not ok:
        pytest.skip(f"cannot make network namespaces here: {reason}")
    from tests.e2e.conftest import build_tiny_model

    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path / "cache"))
    build_tiny_model().save(tmp_path / "tiny.keras")
    settings = BenchSettings(
        run_dir=tmp_path / "run",
        shape=ClusterShape(
            2,
            big_memory="128Mi",
            small_memory="90Mi",
            reserved="0",
            memory_overhead="0",
            fixed_bandwidth="400Kbps",
        ),
        model=BenchModel(application=None, file="tiny.keras", input_shape=(512,)),
        target_s=3.0,
        min_requests=8,
        max_requests=16,
        base_dir=tmp_path,
        limits=cgroups.available()[0],  # as root: each pod under its manifest's memory limit
    )
    messages: list[str] = []
    result = measure("size", 2, "none", settings, messages.append)
    assert result.oom_kills == 0 and result.dilation == 1.0
    assert result.answered == result.requests and result.failed == 0
    assert result.measured_per_s > 0 and math.isfinite(result.ratio)
    assert result.unloaded_latency_s > 0
    stage_nodes = [u for u in result.usage if u.role.startswith("stage")]
    assert stage_nodes and all(u.cpu_s > 0 and u.sent_bytes > 0 for u in stage_nodes)
    results = Results((result,), None, 1.0)
    assert report.write_csv(results, tmp_path / "out" / "cluster.csv").stat().st_size > 0
    assert report.plot(results, tmp_path / "out" / "cluster.png").stat().st_size > 0
    assert not [ns for ns in netns.list_netns() if ns.startswith(netns.name_prefix("cb-size2-none-tiny"))]
    spread = predicted_spread((2,), 3, settings)  # the profile is cached by now: planner only
    assert spread[0].workers == 2 and spread[0].seeds == 3 and math.isfinite(spread[0].median_gain)


def test_compute_sweep_spec_has_pi_class_speeds_uniform_memory_and_the_full_objective():
    shape = ClusterShape(
        workers=3, worker_speed="4GFLOPS", gateway_speed="10GFLOPS", uniform_memory=True, big_memory="1Gi",
        fixed_bandwidth="50Mbps", objective="full",
    )  # fmt: skip
    data = spec_data("cb-x", shape, BenchModel(), RunChoices())
    workers = [n for n in data["cluster"]["nodes"] if n["name"] != GATEWAY]
    assert {n["speed"] for n in workers} == {"4GFLOPS"} and {n["memory"] for n in workers} == {"1Gi"}
    assert data["cluster"]["nodes"][0]["speed"] == "10GFLOPS"
    assert data["planner"]["objective"] == "full"
    spec = build_spec("cb-x", shape, BenchModel(), RunChoices())
    assert spec.cluster.node("n01").flops_per_s == 4e9


def test_compute_report_gives_gain_per_node_count_dilation_oom_kills_and_defer():
    def run(workers: int, measured: float) -> RunResult:
        return replace(_run(workers, measured, "compute"), model="ResNet50", dilation=1.5, oom_kills=0)

    results = Results((run(1, 1.0), run(2, 1.8), run(8, 1.6)), None, 60.0)
    text = "\n".join(report.report_lines(results, "seifer bench cluster --compute-only"))
    assert "## Compute-bound sweep" in text
    assert "| ResNet50 | 8 | 2 |" in text and "| +60% | +700% |" in text and "| 1.5 | 0 |" in text
    assert "8 compute nodes against one: measured +60% (predicted +700%); DEFER reported +53%" in text
    assert "Time dilation k = 1.5" in text and "OOM kills: 0" in text


def test_the_busiest_node_is_shown_beside_what_the_plan_counts_for_it():
    run = replace(
        _run(2, 1.0, "compute"),
        node_time_s=(("n01", 0.61), ("n02", 0.72)),
        node_plan_s=(("n01", 0.55), ("n02", 0.66)),
    )
    assert run.busiest == "n02 720 ms (plan 660)"
    assert replace(run, node_plan_s=()).busiest == "n02 720 ms"
    assert replace(run, node_time_s=()).busiest == ""


def test_compute_plot_is_written_only_when_the_sweep_ran(tmp_path):
    runs = tuple(replace(_run(n, n * 0.5, "compute"), model="ResNet50") for n in (1, 2, 8))
    assert report.plot_compute(Results(runs, None, 1.0), tmp_path / "compute.png").stat().st_size > 1000
    assert report.plot_compute(_results(), tmp_path / "none.png") is None


def test_the_dilation_check_compares_raw_and_scaled_back_rates_with_k_one():
    real = replace(_run(4, 1.4, "compute"), model="ResNet50")
    slow = replace(_run(4, 1.5, "dilation"), model="ResNet50", dilation=2.0, raw_measured_per_s=0.75)
    text = "\n".join(report.report_lines(Results((real, slow), None, 1.0), "x"))
    assert "at k=2 the run measured 0.750/s raw, 0.54 of the k=1 run's 1.400/s (expected 0.50)" in text
    assert "scaled back 1.500/s, 1.07 of k=1." in text
