"""Node speeds as CPU quotas and the choice of time dilation (pure)."""

from __future__ import annotations

import pytest

from seifer_iac.local import speed
from seifer_iac.spec.model import Node

MIB = 2**20


def _pis(count: int, flops: float = 4e9, cpus: float = 1.0) -> list[Node]:
    return [Node(f"pi-{i}", 512 * MIB, flops, cpus=cpus) for i in range(count)]


def test_a_node_gets_its_speed_over_one_host_cores_speed() -> None:
    quotas = speed.node_quotas([Node("pi", MIB, 4e9), Node("jetson", MIB, 10e9, cpus=2)], 20e9, 1.0)
    assert quotas == {"pi": pytest.approx(0.2), "jetson": pytest.approx(0.5)}
    assert speed.node_quotas([Node("pi", MIB, 4e9)], 20e9, 2.0) == {"pi": pytest.approx(0.1)}


def test_no_dilation_when_the_host_has_room() -> None:
    dilation = speed.choose_dilation(_pis(4), 20e9, cores=2.0)
    assert dilation.factor == 1.0 and dilation.automatic
    assert dilation.demand_cores == pytest.approx(0.8) and dilation.usable_cores == pytest.approx(1.5)
    assert dilation.label == "real time (no dilation)"


def test_dilation_grows_with_the_cluster_and_leaves_headroom() -> None:
    dilation = speed.choose_dilation(_pis(20), 20e9, cores=2.0)  # 4 cores of demand, 1.5 usable
    assert dilation.factor == pytest.approx(2.7)
    quotas = speed.node_quotas(_pis(20), 20e9, dilation.factor)
    assert sum(quotas.values()) <= 1.5
    assert "x2.7" in dilation.label and "k=2.7" in dilation.describe()
    assert speed.choose_dilation(_pis(20), 20e9, cores=16.0).factor == 1.0  # 12 usable of 16


def test_a_node_faster_than_its_cpus_allow_forces_dilation() -> None:
    fast = [Node("xavier", MIB, 60e9, cpus=1)]  # three host cores of speed on one core
    dilation = speed.choose_dilation(fast, 20e9, cores=64.0)
    assert dilation.factor == pytest.approx(3.0)
    assert speed.slower_than_spec(fast, 20e9, dilation.factor) == []
    assert speed.slower_than_spec(fast, 20e9, 1.0) == ["xavier"]
    assert speed.node_quotas(fast, 20e9, 1.0) == {"xavier": 1.0}  # capped at its cpus


def test_a_requested_dilation_is_kept_and_checked() -> None:
    assert speed.choose_dilation(_pis(2), 20e9, 2.0, requested=4).factor == 4.0
    assert not speed.choose_dilation(_pis(2), 20e9, 2.0, requested=4).automatic
    with pytest.raises(ValueError, match="at least 1"):
        speed.choose_dilation(_pis(2), 20e9, 2.0, requested=0.5)


def test_dilated_configs_stretch_deadlines_timeouts_and_heartbeats_only() -> None:
    config = {"deadlineSeconds": 10, "attemptTimeoutSeconds": 2.5, "heartbeatMs": 1000, "queueDepth": 2}
    stretched = speed.dilate_config(config, 3.0)
    assert stretched == {
        "deadlineSeconds": 30.0,
        "attemptTimeoutSeconds": 7.5,
        "heartbeatMs": 3000,
        "queueDepth": 2,
    }
    assert speed.dilate_config({"role": "stage"}, 2.0) == {"role": "stage"}
