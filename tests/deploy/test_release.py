"""build_release: the one pipeline spec -> manifests path, its plan lock, and its plan-time errors."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from seifer_iac import release as release_module
from seifer_iac.artifacts import build_artifacts
from seifer_iac.manifests import render_manifests
from seifer_iac.model.errors import ModelError
from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.lock import lock_path, write_lock
from seifer_iac.release import build_release, plan_for_spec
from seifer_iac.spec import Spec, load_spec
from seifer_iac.spec.model import ModelSource
from tests.deploy.conftest import DEV_SPEC
from tests.deploy.helpers import blobs_of, by_key


def test_release_values_agree(any_release) -> None:
    r = any_release
    assert r.plan.model_hash == r.profile.model_hash
    assert r.plan.model_version == r.spec.model.version
    assert [a.stage for a in r.artifacts] == [s.index for s in r.plan.stages]
    assert r.plan.stages[-1].last_block == len(r.profile.blocks) - 1


def without_node(spec_file: Path, node: str, target: Path) -> Path:
    """A copy of the spec with one node (and its links) removed, as an operator would edit it."""
    data = yaml.safe_load(spec_file.read_text())
    cluster = data["cluster"]
    cluster["nodes"] = [n for n in cluster["nodes"] if n["name"] != node]
    links = cluster["bandwidth"].get("links", [])
    cluster["bandwidth"]["links"] = [lk for lk in links if node not in (lk["from"], lk["to"])]
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def test_removing_a_used_node_moves_only_the_stages_on_it(dev_release, tmp_path: Path) -> None:
    r = dev_release
    spec_file = Path(shutil.copy(DEV_SPEC, tmp_path / "dev.pipeline.yaml"))
    write_lock(lock_path(spec_file), r.plan)  # the committed lock of the current deployment
    # the last stage's node (a Pi with spares of its speed): repairable within the margin; losing
    # jetson-1 (stage 1) re-plans instead, as its blocks on a Pi would be far slower than the optimum
    lost = r.plan.stages[-1].node
    spec = load_spec(without_node(spec_file, lost, spec_file))
    plan = plan_for_spec(spec, r.profile)
    assert [(s.first_block, s.last_block) for s in plan.stages] == [
        (s.first_block, s.last_block) for s in r.plan.stages
    ]
    for before, after in zip(r.plan.stages, plan.stages, strict=True):
        assert (after.node != before.node) == (before.node == lost)
    # Same block ranges: the same partitions, so the same blobs.
    new = render_manifests(spec, plan, build_artifacts(spec, plan, blobs_of(r.artifacts)), r.profile)
    old_objects, new_objects = by_key(r.manifests), by_key(new)
    assert set(old_objects) == set(new_objects)  # no ConfigMap (weights, configs) is replaced
    modified = {k for k in old_objects if old_objects[k] != new_objects[k]}
    moved = {("Deployment", f"{r.spec.name}-stage-{s.index}") for s in r.plan.stages if s.node == lost}
    assert moved <= modified
    for key in modified - moved:
        # A stage that stayed may only see its fail-over list change (a backup became used or is gone).
        assert key[0] == "Deployment"
        before_pod = old_objects[key]["spec"]["template"]["spec"]
        after_pod = new_objects[key]["spec"]["template"]["spec"]
        assert {**before_pod, "affinity": None} == {**after_pod, "affinity": None}
        before_pref = before_pod["affinity"]["nodeAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"
        ]
        assert (
            before_pref
            == after_pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        )


def test_the_weight_budget_is_planned_for_and_an_impossible_one_fails_before_the_split(
    edge_release, monkeypatch
) -> None:
    def budget(mib: int) -> Spec:
        weights = dataclasses.replace(edge_release.spec.weights, max_configmap_total_bytes=mib * 2**20)
        return dataclasses.replace(edge_release.spec, weights=weights, source_path=None)

    plan = plan_for_spec(budget(32), edge_release.profile)  # more, smaller stages: every one renders
    assert (
        max(s.param_bytes for s in plan.stages)
        <= 32 * 2**20
        < max(s.param_bytes for s in edge_release.plan.stages)
    )

    def never(*_: object) -> list[bytes]:
        raise AssertionError("the model must not be split for an impossible plan")

    monkeypatch.setattr(release_module, "partition_blobs_for", never)
    with pytest.raises(PlanningError) as caught:
        build_release(budget(4))
    message = str(caught.value)
    assert "weights.maxTotal allows 4.0 MiB" in message and "\n" not in message


def test_a_profile_alone_cannot_be_deployed(dev_release, tmp_path: Path) -> None:
    profile_file = tmp_path / "profile.json"
    profile_file.write_text(dev_release.profile.to_json())
    spec = dataclasses.replace(
        dev_release.spec, model=ModelSource(profile=str(profile_file), version="1.0.0"), source_path=None
    )
    with pytest.raises(ModelError, match=r"model\.application or model\.file"):
        build_release(spec)
