"""`seifer bench cluster --media`: the pure parts (pricing both ways, specs per medium, the table).

The runs themselves are the benchmark's (docs/benchmarks.md section 3b); the emulated medium they run on is
tested in tests/local/test_netns.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from seifer_iac.bench.cluster import BenchSettings, RunResult
from seifer_iac.bench.cluster_gen import BenchModel, RunChoices, build_spec
from seifer_iac.bench.cluster_media import (
    DEFAULT_CASES,
    RUNS,
    MediaCase,
    MediaResult,
    case_settings,
    media_lines,
    plan_of,
    transfers_of,
)

CASE = MediaCase(BenchModel(), 4, "118Mi")


def _run(experiment: str, measured: float) -> RunResult:
    return RunResult(
        experiment, "MobileNetV2", 4, "none", 3, "n03[0-36] > n02[37-73] > n04[74-74]", "shared medium",
        2.0, measured, 0.8, 0.9, 3.0, 4.0, 20, 20, 0, 0.0, 0.0, host_load=3.0,
    )  # fmt: skip


def test_a_placement_is_priced_by_its_slowest_transfer_or_by_their_sum() -> None:
    result = MediaResult(CASE, "switched", "shared", _run("swsh-medium", 1.6), (0.4, 0.05, 0.1, 0.05))
    assert result.switched_per_s == pytest.approx(2.5)
    assert result.shared_per_s == pytest.approx(1 / 0.6)
    assert result.predicted_per_s == result.shared_per_s  # measured against the emulated medium's model
    assert result.ratio == pytest.approx(1.6 * 0.6)
    switched = MediaResult(CASE, "switched", "switched", _run("swsw-medium", 2.4), (0.4, 0.05, 0.1, 0.05))
    assert switched.predicted_per_s == pytest.approx(2.5)


def test_each_run_plans_for_its_medium_and_emulates_the_one_asked_for(tmp_path: Path) -> None:
    settings = BenchSettings(run_dir=tmp_path)
    assert RUNS == (("switched", "switched"), ("shared", "shared"), ("switched", "shared"))
    chosen = case_settings(CASE, "switched", "shared", settings)
    assert chosen.shape.medium == "switched" and chosen.emulate_medium == "shared"
    assert chosen.shape.workers == 4 and chosen.shape.small_memory == chosen.shape.big_memory == "118Mi"
    spec = build_spec("cb-x", replace(chosen.shape, medium="shared"), CASE.model, RunChoices())
    assert spec.cluster.medium == "shared"
    assert build_spec("cb-x", chosen.shape, CASE.model, RunChoices()).cluster.medium == "switched"
    assert all(case.workers <= 20 for case in DEFAULT_CASES)


@pytest.mark.slow
def test_the_shared_plan_pays_for_every_transfer_and_the_switched_one_only_for_its_slowest(
    tmp_path: Path,
) -> None:
    settings = BenchSettings(run_dir=tmp_path)
    switched = plan_of(CASE, case_settings(CASE, "switched", "switched", settings))
    shared = plan_of(CASE, case_settings(CASE, "shared", "shared", settings))
    assert len(switched.stages) >= 2  # memory is tight: the chain has several transfers
    assert switched.throughput_per_s == pytest.approx(1 / max(transfers_of(switched)), rel=1e-9)
    assert shared.throughput_per_s == pytest.approx(1 / sum(transfers_of(shared)), rel=1e-9)
    assert 1 / sum(transfers_of(shared)) >= 1 / sum(transfers_of(switched))  # best on its own medium


def test_the_report_says_what_a_planner_blind_to_the_medium_promised() -> None:
    transfers = (0.39, 0.06, 0.008, 0.005)
    results = (
        MediaResult(CASE, "switched", "switched", _run("swsw-medium", 2.45), transfers),
        MediaResult(CASE, "shared", "shared", _run("shsh-medium", 2.10), (0.39, 0.05, 0.02, 0.005)),
        MediaResult(CASE, "switched", "shared", _run("swsh-medium", 2.05), transfers),
    )
    text = "\n".join(media_lines(results))
    assert "| MobileNetV2 | 4 x 118Mi | switched | shared |" in text
    assert "390 + 60 + 8 + 5" in text
    assert "the switched plan promised 2.56/s and measured 2.05/s (0.80 of its promise" in text
    assert media_lines(()) == []
