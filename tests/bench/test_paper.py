"""The paper benchmark's logic on synthetic profiles (fast): rows, figures, CSV, PNG."""

from __future__ import annotations

import csv
import random

from seifer_iac.bench import paper as pb
from tests.planner.helpers import MIB, make_profile


def synthetic_profiles() -> dict[str, object]:
    rng = random.Random(0)
    sizes = [(rng.randint(1, 12) * MIB, rng.randint(1, 8) * 100_000, 2 * MIB, 10**8) for _ in range(12)]
    return {"Toy": make_profile(sizes, name="toy", input_bytes=600_000)}


def test_grid_shapes():
    assert len(pb.grid("with-dispatcher", quick=False)) == 4 * 5 * 4
    assert len(pb.grid("mixed", quick=True)) == 4 * 3
    assert all(not p.dispatcher_links for p in pb.grid("without-dispatcher", quick=True))


def test_variant_rows_csv_and_plot(tmp_path):
    profiles = synthetic_profiles()
    rows, trials = pb.run_variant("with-dispatcher", profiles, quick=True, trials=2)
    assert len(rows) == 3 * 4 and len(trials) == 24
    for row in rows:
        if row.feasible:
            assert row.vs_random >= 1 - 1e-9 or row.vs_random != row.vs_random  # nan when ours is 0
            assert row.vs_greedy >= 1 - 1e-9 and row.vs_two_phase >= 1 - 1e-9
            assert row.proven_share == 1.0
    figures = pb.overall(trials)
    assert figures["vs_greedy"] >= 1 - 1e-9 and "plan_worst_ms_50" in figures
    path = pb.write_csv(rows, tmp_path / "paper.csv")
    with path.open() as handle:
        assert len(list(csv.DictReader(handle))) == len(rows)
    png = pb.plot(rows, "with-dispatcher", tmp_path / "p.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    lines = pb.markdown_rows(rows)
    assert lines[0].startswith("| model") and len(lines) == len(rows) + 2


def test_mixed_variant_runs():
    rows, _ = pb.run_variant("mixed", synthetic_profiles(), quick=True, trials=1)
    assert {r.memory for r in rows} == {"mixed"}


def test_csv_round_trip(tmp_path):
    rows, _ = pb.run_variant("without-dispatcher", synthetic_profiles(), quick=True, trials=1)
    again = pb.read_csv(pb.write_csv(rows, tmp_path / "p.csv"))
    assert [(r.model, r.nodes, r.memory, r.trials) for r in again] == [
        (r.model, r.nodes, r.memory, r.trials) for r in rows
    ]
    assert pb.plot(again, "without-dispatcher", tmp_path / "p.png").exists()
