"""Backends: LiteRT (default) and TensorFlow runners; a LiteRT stage process carries no TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.backends import BackendError, litert_runner, load_runner, tensorflow_runner
from runtime.config import BackendConfig
from seifer_iac.bench.localchain import LocalChain

from .conftest import TinySplit

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("tensorflow", "keras", "libtensorflow")


def _chained(runners, x):
    for run in runners:
        x = run(x)
    return x


def test_litert_chain_equals_the_unsplit_model_for_any_batch(tiny_split: TinySplit) -> None:
    runners = [litert_runner(blob, threads=2) for blob in tiny_split.blobs]
    for batch in (1, 4):
        x = np.random.default_rng(batch).standard_normal((batch, 8, 8, 3)).astype(np.float32)
        y = _chained(runners, x)
        assert y.shape == (batch, 10)
        np.testing.assert_allclose(y, tiny_split.reference(x), rtol=0, atol=1e-5)


def test_tensorflow_backend_runs_keras_blobs(tiny_split: TinySplit) -> None:
    runners = [tensorflow_runner(blob) for blob in tiny_split.keras_blobs]
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(_chained(runners, x), tiny_split.reference(x), rtol=0, atol=1e-6)


def test_wrong_input_shape_is_a_value_error_not_a_crash(tiny_split: TinySplit) -> None:
    run = litert_runner(tiny_split.blobs[0])
    with pytest.raises(ValueError, match="partition of input"):
        run(np.zeros((1, 8, 8, 4), np.float32))


def test_a_blob_of_the_other_format_is_refused_by_each_backend(tiny_split: TinySplit) -> None:
    with pytest.raises(BackendError, match="LiteRT cannot load"):
        load_runner(BackendConfig("litert"), tiny_split.keras_blobs[0])
    with pytest.raises(BackendError, match="TensorFlow cannot load"):
        load_runner(BackendConfig("tensorflow"), tiny_split.blobs[0])


def test_litert_path_imports_neither_tensorflow_nor_keras(tiny_split: TinySplit, tmp_path: Path) -> None:
    blob = tmp_path / "part.tflite"
    blob.write_bytes(tiny_split.blobs[0])
    code = (
        "import sys, numpy as np\n"
        "import runtime.stage, runtime.dispatcher\n"
        "from runtime.backends import load_runner\n"
        "from runtime.config import BackendConfig\n"
        f"run = load_runner(BackendConfig('litert'), open({str(blob)!r}, 'rb').read())\n"
        "run(np.zeros((1, 8, 8, 3), np.float32))\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _mapped_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_running_litert_stages_and_dispatcher_map_no_tensorflow(chain: LocalChain) -> None:
    for key in ("stage-1", "stage-2", "stage-3", "dispatcher"):
        maps = _mapped_libraries(chain.procs[key].pid)
        assert "tensorflow" not in maps, f"{key} has TensorFlow mapped"
    assert "litert" in _mapped_libraries(chain.procs["stage-1"].pid).lower()
