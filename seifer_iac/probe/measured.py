"""The measured-cluster file, as the probe commands use it.

The file is an include of the spec (`cluster.measured`), so the spec loader reads it and its code lives at
the bottom layer, in `seifer_iac.spec.measured`; this module is the probe's name for the same values.
"""

from seifer_iac.spec.measured import (
    MeasuredCluster,
    MeasuredLink,
    MeasuredSpeed,
    UnmeasuredLink,
    UnmeasuredNode,
    Unreachable,
    dump_measured,
    load_measured,
)

__all__ = [
    "MeasuredCluster",
    "MeasuredLink",
    "MeasuredSpeed",
    "UnmeasuredLink",
    "UnmeasuredNode",
    "Unreachable",
    "dump_measured",
    "load_measured",
]
