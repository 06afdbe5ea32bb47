"""`seifer bench paper` shell: options and errors (the logic is tested in test_paper)."""

from __future__ import annotations

from click.testing import CliRunner

from seifer_iac.bench import paper as pb
from seifer_iac.cli.bench_paper import command
from tests.bench.test_paper import synthetic_profiles


def test_unknown_variant_exit_2():
    result = CliRunner().invoke(command, ["--variant", "nope"])
    assert result.exit_code == 2 and "unknown variant" in result.output


def test_quick_run_writes_csv_and_png(tmp_path, monkeypatch):
    monkeypatch.setattr(pb, "load_profiles", lambda *a, **k: synthetic_profiles())
    monkeypatch.setattr(pb, "QUICK_NODES", (5,))
    result = CliRunner().invoke(
        command, ["--quick", "--trials", "1", "--variant", "mixed", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "paper.csv").exists() and (tmp_path / "paper-mixed.png").exists()
    assert "## mixed" in result.output and "plan time (CPU) median/worst ms: 5 nodes" in result.output
