"""Session-wide hygiene: the tests never read or write the user's caches or local-run state, and
TensorFlow stays quiet."""

from __future__ import annotations

import os
import tempfile

_SCRATCH = tempfile.mkdtemp(prefix="seifer-tests-")
os.environ.setdefault("SEIFER_CACHE_DIR", os.path.join(_SCRATCH, "cache"))
os.environ.setdefault("SEIFER_STATE_DIR", os.path.join(_SCRATCH, "state"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
