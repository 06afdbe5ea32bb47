"""The pipeline spec: load, validate, and return frozen values with parsed units."""

from seifer_iac.spec.errors import SpecError
from seifer_iac.spec.loader import load_spec, spec_from_data
from seifer_iac.spec.model import Cluster, Codec, Link, ModelSource, Node, Spec

__all__ = [
    "Cluster",
    "Codec",
    "Link",
    "ModelSource",
    "Node",
    "Spec",
    "SpecError",
    "load_spec",
    "spec_from_data",
]
