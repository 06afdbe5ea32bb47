"""What a kubelet enforces, in `seifer up --local`: memory limits (OOMKilled) and node speed with dilation.

Real stage processes of the tiny model, real cgroups (root only; skipped cleanly otherwise), real requests.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
from pathlib import Path

import pytest

from seifer_iac.bench.load import drive, undilated
from seifer_iac.local import cgroups, speed
from seifer_iac.local.runner import LocalOptions, run_local
from seifer_iac.local.supervisor import NotReady
from seifer_iac.release import Release, build_release
from tests.e2e.conftest import free_port, tiny_input

SPEC = """\
apiVersion: seifer.dev/v1alpha1
kind: Pipeline
metadata: {{name: tiny-limits, namespace: e2e}}
model: {{file: tiny.keras, version: "1", inputShape: [512]}}
cluster:
  nodes:
    - {{name: gw, memory: 1Gi, schedulable: false, speed: {speed}}}
    - {{name: n1, memory: 90Mi, speed: {speed}}}
    - {{name: n2, memory: 90Mi, speed: {speed}}}
    - {{name: n3, memory: 90Mi, speed: {speed}}}
    - {{name: n4, memory: 90Mi, speed: {speed}}}
  bandwidth: {{default: 1Gbps}}
dispatcher: {{node: gw, port: {port}, deadline: 30s}}
runtime: {{image: seifer-runtime:test, codec: none, queueDepth: 2}}
planner: {{objective: communication}}
weights: {{chunkSize: 512Ki}}
"""


@pytest.fixture(scope="module")
def writable_cgroups() -> None:
    ok, reason = cgroups.available()
    if not ok:
        pytest.skip(reason)


@pytest.fixture
def limits_release(tmp_path, tiny_model_path, monkeypatch):
    """release(speed) -> the tiny model's release with every node at `speed` (FLOP/s, e.g. 300MFLOPS)."""
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "tiny.keras").write_bytes(tiny_model_path.read_bytes())

    def make(speed: str = "1.0") -> Release:
        path = tmp_path / "tiny.pipeline.yaml"
        path.write_text(SPEC.format(speed=speed, port=free_port()))
        return build_release(path)

    return make


def with_limits(release: Release, limits: dict[str, str]) -> Release:
    """The release with some containers' memory limits replaced, by Deployment name suffix (`-stage-2`)."""
    manifests = copy.deepcopy(list(release.manifests))
    for manifest in manifests:
        name = manifest["metadata"]["name"]
        limit = next((v for k, v in limits.items() if name.endswith(k)), None)
        if manifest["kind"] == "Deployment" and limit is not None:
            manifest["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = limit
    return dataclasses.replace(release, manifests=tuple(manifests))


def _run_dirs_left(run: str) -> list[str]:
    return [
        str(p)
        for c in cgroups.discover().values()
        for parent in {c.own, c.root}
        for p in Path(parent).glob(run)
    ]


@pytest.mark.cgroups
@pytest.mark.slow
def test_a_stage_below_what_it_needs_is_oom_killed_and_named(writable_cgroups, limits_release, tmp_path):
    release = with_limits(limits_release(), {"-stage-2": "24Mi"})
    node = next(s.node for s in release.plan.stages if s.index == 2)
    out = io.StringIO()
    options = LocalOptions(run_dir=tmp_path / "run", limits=True, cpu_speed=False, ready_timeout_s=25)
    with pytest.raises(NotReady) as raised, run_local(release, options, stream=out):
        pass
    text = out.getvalue()
    assert "tiny-limits-stage-2 24 MiB" in text  # the limit taken from the manifest
    oom = [line for line in text.splitlines() if line.startswith("OOMKilled: tiny-limits-stage-2")]
    assert oom, text
    assert f"on node {node}" in oom[0] and "memory limit 24 MiB" in oom[0] and "cgroup peak" in oom[0]
    peak = int(oom[0].split("cgroup peak ")[1].split()[0])
    assert 20 <= peak <= 24
    assert "tiny-limits-stage-2 (OOMKilled" in str(raised.value)
    assert not [line for line in text.splitlines() if line.startswith("OOMKilled: tiny-limits-stage-1")]
    assert _run_dirs_left(cgroups.name_prefix("tiny-limits") + "*") == []


@pytest.mark.cgroups
@pytest.mark.slow
def test_a_dilated_run_halves_quotas_stretches_deadlines_and_labels_figures(
    writable_cgroups, limits_release, tmp_path
):
    """The wiring of k=2 in a real run; the rates themselves are measured in tests/local/test_cgroups.py and,
    end to end, by `seifer bench cluster --sweep compute` (too noisy for a test on a loaded 2-core host)."""
    release = limits_release("1GFLOPS")  # the manifests' own limits (the measured memory model)
    options = LocalOptions(run_dir=tmp_path / "run", limits=True, dilation=2.0)
    with run_local(release, options, stream=io.StringIO()) as running:
        assert (
            running.dilation is not None and running.dilation.factor == 2.0 and not running.dilation.automatic
        )
        assert running.calibration is not None and running.calibration.flops_per_s > 0
        nodes = [release.spec.cluster.node(n) for n, _ in running.quotas]
        real_time = speed.node_quotas(nodes, running.calibration.flops_per_s, 1.0)
        assert {n: q * 2 for n, q in running.quotas} == pytest.approx(real_time)
        config = json.loads(next((tmp_path / "run" / "pods").glob("*-dispatcher/**/*.json")).read_text())
        assert config["deadlineSeconds"] == pytest.approx(60.0)  # 30 s in the spec, x2
        result = drive(running.dispatcher_url, release.spec.name, tiny_input, 24, 8, timeout_s=120)
        assert result.errors == () and result.answered == 24 and running.oom_kills() == 0
    back = undilated(result, 2.0)
    assert back.throughput_per_s == pytest.approx(2 * result.throughput_per_s)
    assert "dilated x2" in running.dilation.label
