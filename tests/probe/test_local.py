"""The local probe's pure parts: scaling back under dilation, quota periods, timeouts, the speed DIRs.

The run itself (namespaces, cgroups, processes) is tested end to end in tests/e2e/test_probe_local.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seifer_iac.local import cgroups
from seifer_iac.probe.local import (
    LocalProbeOptions,
    failed_link,
    last_json,
    plan_estimate,
    probe_name,
    quota_period_s,
    repeat_seconds,
    scaled_line,
)
from seifer_iac.probe.schedule import schedule
from seifer_iac.spec.model import Cluster, Link, Node


def test_a_dilated_line_is_scaled_back_to_the_spec_clusters_figures() -> None:
    line = {"kind": "link", "seconds": [2.0, 4.0], "bitsPerSecond": 1e6, "error": None}
    assert scaled_line(line, 2.0) == {
        "kind": "link",
        "seconds": [1.0, 2.0],
        "bitsPerSecond": 2e6,
        "error": None,
    }
    speed = {"kind": "speed", "seconds": [0.5], "flopsPerSecond": 4e9, "flops": 2e9}
    assert scaled_line(speed, 4.0)["flopsPerSecond"] == 16e9 and scaled_line(speed, 4.0)["flops"] == 2e9
    failed = failed_link("a", "b", 10, "no route")
    assert scaled_line(failed, 3.0)["bitsPerSecond"] is None and scaled_line(failed, 3.0)["seconds"] == []
    assert scaled_line(line, 1.0) is line


def test_quota_periods_follow_the_cgroup_writer_and_repeats_span_25_of_them() -> None:
    for cores in (None, 0.5, 0.05, 0.01, 0.0005):
        writes = cgroups.cpu_quota_writes("/x", 1, cores)
        period = next(int(w.value) for w in writes if w.path.endswith("cpu.cfs_period_us"))
        assert quota_period_s(cores) == pytest.approx(period / 1e6)
    assert repeat_seconds(0.5, 0.3) == 0.5  # 25 x 20 ms
    assert repeat_seconds(0.5, 0.8) == 0.8
    assert repeat_seconds(0.01, 0.3) == pytest.approx(25 * 0.3)  # 0.01 core: a 300 ms period (3 ms slices)


def test_last_json_takes_the_probes_object_and_ignores_other_output() -> None:
    assert last_json('noise\n{"a": 1}\n[1, 2]\n') == {"a": 1}
    assert last_json("Traceback ...\n") is None


def test_the_estimate_counts_missing_links_as_failing_at_once_and_stretches_by_k() -> None:
    nodes = (Node("a", 2**30, 1e9), Node("b", 2**30, 1e9), Node("c", 2**30, 1e9))
    cluster = Cluster(nodes, links=(Link("a", "b", 8e6), Link("b", "a", 8e6)))
    rounds = schedule(["a", "b", "c"])
    options = LocalProbeOptions(work_dir=Path("/unused"), size=1_000_000, repeats=2)
    real = plan_estimate(cluster, rounds, options, 1.0)
    dilated = plan_estimate(cluster, rounds, options, 2.0)
    assert len(real.assumed) == 4  # a-c, c-a, b-c, c-b: no link
    per_transfer = 2 * 8e6 / (8e6 * 0.95)
    assert dilated.seconds - real.seconds == pytest.approx(2 * per_transfer, rel=1e-6)  # a->b and b->a


def test_the_probe_run_never_shares_names_with_a_running_pipeline() -> None:
    from seifer_iac.local.netns import name_prefix

    assert name_prefix(probe_name("mobilenet-dev")) != name_prefix("mobilenet-dev")
