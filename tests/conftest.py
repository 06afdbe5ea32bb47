"""Session-wide hygiene: the tests never read or write the user's caches or local-run state, and
TensorFlow stays quiet."""

from __future__ import annotations

import os
import tempfile

_SCRATCH = tempfile.mkdtemp(prefix="seifer-tests-")
os.environ.setdefault("SEIFER_CACHE_DIR", os.path.join(_SCRATCH, "cache"))
os.environ.setdefault("SEIFER_STATE_DIR", os.path.join(_SCRATCH, "state"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Hypothesis profiles. `make test` (and so CI) runs `--hypothesis-profile ci`: the same examples on every
# run, so a red run is a regression, not a dice roll. A bare `pytest` keeps exploring new examples, and
# `--hypothesis-profile thorough` hunts with ten times as many.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("thorough", max_examples=1000)
