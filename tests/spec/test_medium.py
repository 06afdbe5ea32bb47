"""cluster.bandwidth.medium: switched (default) or shared, carried to the planner's cost model."""

import copy
from pathlib import Path

import pytest
import yaml

from seifer_iac.planner.cost import CostModel
from seifer_iac.spec import SpecError, spec_from_data

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def _data():
    return yaml.safe_load((STACKS / "dev.pipeline.yaml").read_text())


def test_default_is_switched_and_shared_is_carried():
    assert spec_from_data(_data(), base_dir=STACKS).cluster.medium == "switched"
    data = copy.deepcopy(_data())
    data["cluster"]["bandwidth"]["medium"] = "shared"
    spec = spec_from_data(data, base_dir=STACKS)
    assert spec.cluster.medium == "shared"
    assert spec.cluster.without({"pi-1"}).medium == "shared"
    assert CostModel.from_spec(spec).medium == "shared"
    assert CostModel.from_spec(spec).hops.fixed_s > 0


def test_unknown_medium_names_the_field():
    data = copy.deepcopy(_data())
    data["cluster"]["bandwidth"]["medium"] = "mesh"
    with pytest.raises(SpecError, match="medium"):
        spec_from_data(data, base_dir=STACKS)
