"""Keras model -> layer DAG -> single-tensor cut points -> profile blocks -> partitions.

Importing this package is cheap (no TensorFlow): the submodules that need keras import it inside their
functions, so the planner side can catch `ModelError` and call `profile_for_source` (which returns a cached
profile without importing TensorFlow) at no cost.

Modules: `load` (applications and .keras files), `graph` (keras -> networkx DAG), `cuts` (cut points),
`flops`, `blocks` (per-block figures), `hashing` (model hash), `profiler` (-> Profile), `cache`
(`profile_for_source`), `split` (sub-models and partition blobs), `measure` (--measure timings).
"""

from seifer_iac.model.cache import profile_for_source
from seifer_iac.model.errors import ModelError

__all__ = ["ModelError", "profile_for_source"]
