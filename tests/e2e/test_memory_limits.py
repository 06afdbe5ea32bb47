"""The memory a plan promises is what a stage holds: real stage processes against their Deployment's limit.

For three models under every backend and precision, a spec whose nodes hold about half the model each (so
the plan has two stages) is rendered, run with `seifer up --local`'s runner, and streamed requests; then
each process's peak resident size (VmHWM) must lie within the memory limit its Deployment sets (a kubelet
would kill it above) and above 60 % of it (the limit is not padding). The dispatcher is held to the same.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from seifer_iac.bench.load import drive
from seifer_iac.cli.demo import memory_limits
from seifer_iac.local.cgroups import vm_hwm_bytes
from seifer_iac.local.runner import LocalOptions, run_local
from seifer_iac.model.cache import profile_for_source
from seifer_iac.planner.cost import CostModel
from seifer_iac.planner.instance import stage_memory_table
from seifer_iac.planner.memory import stage_model
from seifer_iac.planner.problem import Problem
from seifer_iac.release import build_release
from seifer_iac.spec.model import Cluster, ModelSource, Node

pytestmark = pytest.mark.slow

MIB = 2**20
MODELS = ("MobileNetV2", "ResNet50", "MobileNetV3Small")
CASES = (("litert", "fp32"), ("litert", "fp16"), ("litert", "int8"), ("tensorflow", "fp32"))
IN_FLIGHT = 8


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module: each model is profiled once, each partition converted once."""
    return tmp_path_factory.mktemp("cache")


def two_stage_node_memory(name: str, backend: str, precision: str) -> int:
    """Bytes per node such that the best split into two stages fits and the whole model does not."""
    profile = profile_for_source(ModelSource(application=name, input_shape=(224, 224, 3), seed=7))
    cost = CostModel(queue_depth=2, memory=stage_model(backend, precision))
    cluster = Cluster(nodes=(Node("n", 1, 1.0),))
    table = stage_memory_table(Problem(profile=profile, cluster=cluster, dispatcher_node="n", cost=cost))
    last = len(profile.blocks) - 1
    halves = min(max(int(table[0, k - 1]), int(table[k, last])) for k in range(1, last + 1))
    node = (math.ceil(halves / MIB) + 1) * MIB
    assert int(table[0, last]) > node, "the whole model must not fit one node"
    return node


def write_spec(directory: Path, name: str, backend: str, precision: str, node_bytes: int, port: int) -> Path:
    document = {
        "apiVersion": "seifer.dev/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": f"mem-{name.lower()}", "namespace": "e2e"},
        "model": {"application": name, "inputShape": [224, 224, 3], "version": "1", "seed": 7},
        "cluster": {
            "nodes": [
                {"name": "gw", "memory": "8Gi", "schedulable": False},
                {"name": "n1", "memory": f"{node_bytes // MIB}Mi"},
                {"name": "n2", "memory": f"{node_bytes // MIB}Mi"},
            ],
            "bandwidth": {"default": "1Gbps"},
        },
        "dispatcher": {"node": "gw", "port": port, "maxInFlight": IN_FLIGHT, "deadline": "120s"},
        "runtime": {
            "image": "seifer-runtime:test",
            "codec": "lz4",
            "queueDepth": 2,
            "backend": backend,
            "precision": precision,
        },
        "planner": {"objective": "communication"},
        "weights": {"maxTotal": "512Mi"},
    }
    path = directory / "memory.pipeline.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.mark.parametrize("backend,precision", CASES, ids=[f"{b}-{p}" for b, p in CASES])
@pytest.mark.parametrize("name", MODELS)
def test_every_process_peaks_within_its_limit_and_above_60_percent(
    name, backend, precision, tmp_path, cache_dir, monkeypatch
):
    from tests.e2e.conftest import free_port

    monkeypatch.setenv("SEIFER_CACHE_DIR", str(cache_dir))
    spec = write_spec(
        tmp_path, name, backend, precision, two_stage_node_memory(name, backend, precision), free_port()
    )
    release = build_release(spec)
    assert len(release.plan.stages) == 2
    limits = memory_limits(release.manifests)
    inputs = lambda i: np.random.default_rng(i).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)  # noqa: E731
    with run_local(release, LocalOptions(run_dir=tmp_path / "run", ready_timeout_s=600)) as running:
        result = drive(
            running.dispatcher_url, release.spec.name, inputs, 3 * IN_FLIGHT, IN_FLIGHT, timeout_s=600
        )
        assert result.answered == result.requests, result.errors[:3]
        peaks = {s.name: vm_hwm_bytes(s.pid) for s in running.supervisor.status()}
    assert set(peaks) == set(limits) and len(peaks) == 3
    for process, peak in peaks.items():
        limit = limits[process]
        assert peak is not None
        assert peak <= limit, f"{process}: peak {peak / MIB:.1f} MiB over its {limit / MIB:.0f} MiB limit"
        assert peak >= 0.6 * limit, (
            f"{process}: peak {peak / MIB:.1f} MiB is under 60 % of {limit / MIB:.0f} MiB"
        )
