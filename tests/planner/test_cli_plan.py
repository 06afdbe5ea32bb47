"""`seifer plan`: table, stable JSON, lock round trip, --check, --diff, --without, one-line errors."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from seifer_iac.cli.plan import command
from tests.planner.conftest import NODES, spec_document


def run(*args: str):
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def distinct_bandwidths(scale: dict[tuple[str, str], float] | None = None) -> dict[tuple[str, str], float]:
    names = ("gateway", *NODES)
    out = {}
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if a != b:
                out[(a, b)] = 10.0 + 3.0 * ((i * 7 + j * 3) % 11)
    for key, factor in (scale or {}).items():
        out[key] *= factor
    return out


def test_table_shows_stages_bottleneck_and_figures(spec_dir):
    path = spec_dir(spec_document(distinct_bandwidths()))
    result = run(str(path))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "stage  node" in out and "<<" in out
    assert "throughput" in out and "proven optimal" in out
    assert "toy_l0a .. " in out and "MiB" in out


def test_json_is_stable_and_has_the_documented_keys(spec_dir):
    path = spec_dir(spec_document(distinct_bandwidths()))
    first, second = run(str(path), "--format", "json"), run(str(path), "--format", "json")
    assert first.exit_code == 0 and first.output == second.output
    data = json.loads(first.output)
    for key in ("stages", "bottleneck_s", "throughput_per_s", "plan_hash", "gap"):
        assert key in data
    for key in ("node", "first_layer", "last_layer", "memory_bytes", "backups"):
        assert key in data["stages"][0]
    assert len(data["stages"]) == 3


def test_lock_round_trip_jitter_keeps_everything(spec_dir, tmp_path):
    path = spec_dir(spec_document(distinct_bandwidths()))
    assert run(str(path), "--check").exit_code == 1  # no lock yet: stale
    written = run(str(path), "--write-lock")
    assert written.exit_code == 0
    lock_file = tmp_path / "dev.pipeline.lock.json"
    assert lock_file.exists()
    locked = json.loads(lock_file.read_text())
    assert run(str(path), "--check").exit_code == 0
    # one used node's links 1% slower (and another 1% faster): nothing moves, --check passes
    used = locked["stages"][0]["node"]
    jitter = {k: 0.99 for k in distinct_bandwidths() if used in k}
    jitter.update({k: 1.01 for k in distinct_bandwidths() if "pi-5" in k and used not in k})
    path = spec_dir(spec_document(distinct_bandwidths(jitter)))
    check = run(str(path), "--check", "--format", "json")
    assert check.exit_code == 0, check.output
    data = json.loads(check.output)
    assert data["diff"]["stages"] == [] and data["plan_hash"] == locked["plan_hash"]
    assert data["diff"]["stale"] is False and data["diff"]["bottleneck_old_s"] != data["bottleneck_s"]


def test_removing_a_used_node_moves_exactly_its_stage(spec_dir, tmp_path):
    path = spec_dir(spec_document(default_mbps=20.0))  # uniform links: a repair is as good as a re-plan
    assert run(str(path), "--write-lock").exit_code == 0
    locked = json.loads((tmp_path / "dev.pipeline.lock.json").read_text())
    gone = locked["stages"][1]["node"]
    result = run(str(path), "--without", gone, "--diff", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    moves = data["diff"]["stages"]
    assert [m["index"] for m in moves] == [2]
    old, new = moves[0]["old"], moves[0]["new"]
    assert old["node"] == gone and new["node"] not in {s["node"] for s in locked["stages"]}
    assert (old["first_block"], old["last_block"]) == (new["first_block"], new["last_block"])
    assert "planner.onNodeLoss: repair" in data["diff"]["reason"]
    table = run(str(path), "--without", gone, "--diff")
    assert f"stage 2: node {gone} -> " in table.output
    assert "stage 1:" not in table.output and "stage 3:" not in table.output
    check = run(str(path), "--without", gone, "--check")
    assert check.exit_code == 1 and f"stage 2: node {gone} -> " in check.stderr


def test_a_new_unused_node_rolls_nothing_and_a_lost_backup_shows(spec_dir, tmp_path):
    document = spec_document(default_mbps=20.0)
    path = spec_dir(document)
    assert run(str(path), "--write-lock").exit_code == 0
    locked = json.loads((tmp_path / "dev.pipeline.lock.json").read_text())
    assert all(s["backups"] for s in locked["stages"])
    document["cluster"]["nodes"].append({"name": "pi-9", "memory": "64Mi", "speed": 9.0})
    assert run(str(spec_dir(document)), "--check").exit_code == 0  # a faster spare: no pod rolls
    backup = locked["stages"][0]["backups"][0]
    result = run(str(spec_dir(document)), "--without", backup, "--check")
    assert result.exit_code == 1
    assert "stage 1: backups [" in result.stderr


def test_an_image_change_is_a_stale_lock(spec_dir):
    document = spec_document()
    assert run(str(spec_dir(document)), "--write-lock").exit_code == 0
    document["runtime"]["image"] = "ghcr.io/seifer-iac/runtime:test2"
    result = run(str(spec_dir(document)), "--check")
    assert result.exit_code == 1
    assert "image ghcr.io/seifer-iac/runtime:test -> ghcr.io/seifer-iac/runtime:test2" in result.stderr


def test_a_corrupt_lock_is_one_line_naming_the_file_and_field(spec_dir, tmp_path):
    path = spec_dir(spec_document())
    assert run(str(path), "--write-lock").exit_code == 0
    lock_file = tmp_path / "dev.pipeline.lock.json"
    data = json.loads(lock_file.read_text())
    data["stages"][1]["node"] = 7
    lock_file.write_text(json.dumps(data))
    result = run(str(path), "--check")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"error: {lock_file}: not a valid plan lock: field stages[1].node: 7 is not of type"
    )
    assert line.endswith("fix it or regenerate it with seifer plan SPEC --write-lock")
    lock_file.write_text('{"format": "seifer.plan-lock/v2", "stages": [')
    result = run(str(path))
    assert result.exit_code == 2 and "not valid JSON" in result.stderr and str(lock_file) in result.stderr


def test_without_unknown_node_is_one_line_exit_2(spec_dir):
    path = spec_dir(spec_document())
    result = run(str(path), "--without", "nope")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "nope" in result.output


def test_infeasible_spec_is_one_line_exit_2(spec_dir):
    document = spec_document()
    for node in document["cluster"]["nodes"][1:]:
        node["memory"] = "16Mi"
    result = run(str(spec_dir(document)))
    assert result.exit_code == 2
    assert "alone needs" in result.output and "Traceback" not in result.output


def test_spec_error_is_one_line_exit_2(spec_dir, tmp_path):
    document = spec_document()
    del document["runtime"]
    result = run(str(spec_dir(document)))
    assert result.exit_code == 2 and result.output.startswith("error: ")


def test_missing_file_exit_2(tmp_path):
    result = run(str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2


def test_yaml_fixture_is_valid_yaml(spec_dir):
    assert yaml.safe_load(spec_dir(spec_document()).read_text())["metadata"]["name"] == "toy-dev"


def test_the_weight_budget_is_a_constraint_of_the_plan(spec_dir):
    document = spec_document(distinct_bandwidths())
    for node in document["cluster"]["nodes"]:
        node["memory"] = "1Gi"  # one stage could hold the whole model: only the budget splits it
    document["planner"]["objective"] = "communication"
    document["weights"] = {"maxTotal": "40Mi"}  # the toy's blocks carry 20 MiB each
    result = run(str(spec_dir(document)), "--format", "json")
    assert result.exit_code == 0, result.output
    stages = json.loads(result.output)["stages"]
    assert len(stages) == 3 and all(s["param_bytes"] <= 40 * 2**20 for s in stages)
    assert "warning" not in result.stderr


def test_an_impossible_weight_budget_names_the_limit_and_the_fix(spec_dir):
    document = spec_document(distinct_bandwidths())
    document["weights"] = {"maxTotal": "16Mi"}
    result = run(str(spec_dir(document)))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: block toy_b0 alone has 20.0 MiB of weights but weights.maxTotal allows 16.0 MiB per stage:"
        " raise weights.maxTotal to >= 20Mi"
    ]
