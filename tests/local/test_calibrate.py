"""Host speed calibration: the arithmetic and the cache (the measurement runs in tests/e2e/test_limits)."""

from __future__ import annotations

import pytest

from seifer_iac.local import calibrate


def test_host_speed_is_the_plans_flops_over_the_measured_time() -> None:
    found = calibrate.from_timings(
        "ab" * 32, "litert", "fp32", "host", [2_000_000, 6_000_000], [0.001, 0.003]
    )
    assert found.flops_per_s == pytest.approx(2e9)
    assert "2.0 GFLOP/s per core" in found.describe() and "litert fp32" in found.describe()
    with pytest.raises(calibrate.CalibrationError):
        calibrate.from_timings("ab", "litert", "fp32", "host", [0], [0.0])


def test_a_calibration_is_cached_per_model_backend_precision_and_host(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path))
    host = calibrate.host_key()
    assert len(host) == 12 and host == calibrate.host_key()
    path = calibrate.calibration_path("cd" * 32, "litert", "int8", host)
    assert path.parent == tmp_path / "calibration"
    assert path != calibrate.calibration_path("cd" * 32, "tensorflow", "int8", host)
    found = calibrate.from_timings("cd" * 32, "litert", "int8", host, [10**9], [0.5])
    calibrate.write_cached(path, found)
    assert calibrate.read_cached(path) == found
    cached, from_cache = calibrate.calibrate(
        [], [10**9], model_hash="cd" * 32, backend="litert", precision="int8"
    )
    assert from_cache and cached == found
    path.write_text("{not json")
    assert calibrate.read_cached(path) is None
