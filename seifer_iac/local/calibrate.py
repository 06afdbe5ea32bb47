"""How fast one core of this host computes the model's own blocks, measured once and kept in the cache.

The quota that makes a node as fast as its spec is its FLOP/s over one host core's FLOP/s, so that figure
must be measured on what the stages really run: each stage's partition, loaded by the runtime exactly as
the stage process loads it (its backend, precision and threads, as its config says), run on zeros.
What is timed is the CPU time the process spends per inference (all its threads), the very unit a CFS
quota hands out, not the wall time: on a busy host the wall time includes other programs' turns, the CPU
time does not. Host speed = the plan's FLOPs of all stages / their summed CPU seconds per inference (a
lower quantile of the repetitions). The result is stored beside the
profiles (`<cache>/calibration/`), keyed by model, backend, precision and host (CPU model and count), and
the runner prints it.

Run as a module (`python -m seifer_iac.local.calibrate CONFIG...`) it is that child: it prints the
per-stage seconds as JSON. A child keeps the framework's memory out of `seifer up`'s own process.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from seifer_iac.model.cache import cache_dir

REPEATS = 15
QUANTILE = 0.25


class CalibrationError(RuntimeError):
    """The calibration child failed; the message carries the tail of its output."""


@dataclass(frozen=True)
class Calibration:
    """One host core's speed on one model's blocks with one backend."""

    flops_per_s: float
    model_hash: str
    backend: str
    precision: str
    host: str
    stage_flops: tuple[int, ...]
    stage_seconds: tuple[float, ...]

    def describe(self) -> str:
        return (
            f"host speed: {self.flops_per_s / 1e9:.1f} GFLOP/s per core on this model's blocks "
            f"({self.backend} {self.precision}, CPU time per inference; host {self.host})"
        )


def host_key() -> str:
    """The CPU model, its count and the architecture: what a calibration is valid for."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{model}|{os.cpu_count()}|{platform.machine()}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


CALIBRATION_REVISION = 4  # 4: the runtime's backends (3: TF only; 2: pinned; 1: wall time)


def calibration_path(model_hash: str, backend: str, precision: str, host: str) -> Path:
    name = f"{model_hash[:24]}-{backend}-{precision}-{host}-r{CALIBRATION_REVISION}.json"
    return cache_dir().parent / "calibration" / name


def read_cached(path: Path) -> Calibration | None:
    try:
        data = json.loads(path.read_text())
        data["stage_flops"] = tuple(data["stage_flops"])
        data["stage_seconds"] = tuple(data["stage_seconds"])
        found = Calibration(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return found if found.flops_per_s > 0 else None


def write_cached(path: Path, calibration: Calibration) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(asdict(calibration), indent=1, sort_keys=True) + "\n")
        temporary.replace(path)
    except OSError:
        pass  # a read-only cache only costs time


def from_timings(
    model_hash: str, backend: str, precision: str, host: str, flops: Sequence[int], seconds: Sequence[float]
) -> Calibration:
    total = sum(seconds)
    if total <= 0 or sum(flops) <= 0:
        raise CalibrationError("calibration measured no work (zero FLOPs or zero time)")
    return Calibration(sum(flops) / total, model_hash, backend, precision, host, tuple(flops), tuple(seconds))


def measure_stages(
    configs: Sequence[Path],
    python: str = sys.executable,
    env: dict[str, str] | None = None,
    timeout_s: float = 600,
) -> list[float]:
    """Run the child on the stages' config files; per-stage seconds per inference."""
    argv = [python, "-m", "seifer_iac.local.calibrate", *map(str, configs)]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise CalibrationError(f"calibration failed ({done.returncode}):\n{tail}")
    return [float(x) for x in json.loads(done.stdout.strip().splitlines()[-1])]


def cached_calibration(model_hash: str, backend: str, precision: str) -> Calibration | None:
    """This host's stored calibration for the model, backend and precision, if any."""
    return read_cached(calibration_path(model_hash, backend, precision, host_key()))


def calibrate(
    configs: Sequence[Path],
    flops: Sequence[int],
    *,
    model_hash: str,
    backend: str,
    precision: str,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
    refresh: bool = False,
) -> tuple[Calibration, bool]:
    """The cached calibration for this model, backend and host, or a fresh one; (calibration, from cache?)."""
    host = host_key()
    path = calibration_path(model_hash, backend, precision, host)
    cached = None if refresh else read_cached(path)
    if cached is not None:
        return cached, True
    seconds = measure_stages(configs, python, env)
    found = from_timings(model_hash, backend, precision, host, flops, seconds)
    write_cached(path, found)
    return found, False


# --------------------------------------------------------------------------------------------- the child


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _time_stage(path: str) -> float:
    """Load one stage as the stage process does; CPU seconds of one inference on zeros (a lower quantile)."""
    import numpy as np

    from runtime.backends import load_runner
    from runtime.config import load_config
    from runtime.weights import read_weights

    cfg = load_config(path)
    run = load_runner(cfg.backend, read_weights(cfg.weights))  # type: ignore[union-attr]
    shape = [1 if d is None or d < 0 else int(d) for d in cfg.input.shape]  # type: ignore[union-attr]
    shape[0] = 1
    dtype = {"FP32": np.float32, "FP16": np.float16, "INT8": np.int8, "UINT8": np.uint8}.get(
        cfg.input.datatype,  # type: ignore[union-attr]
        np.float32,
    )
    x = np.zeros(shape, dtype=dtype)
    for _ in range(3):
        run(x)
    timings = []
    for _ in range(REPEATS):
        start = time.process_time()
        run(x)
        timings.append(time.process_time() - start)
    return _quantile(timings, QUANTILE)


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    seconds = [_time_stage(p) for p in paths]
    print(json.dumps(seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
