"""--measure: every block timed under tf.function."""

from __future__ import annotations

from seifer_iac.model.measure import measure_blocks, time_callable
from seifer_iac.model.profiler import profile_model

from .small_models import small_model


def test_time_callable_is_a_median_of_positive_samples() -> None:
    assert time_callable(lambda x: x, 1.0, repeats=3, warmup=1) >= 0.0


def test_every_block_gets_a_time() -> None:
    model = small_model()
    profile = profile_model(model, "small")
    measured = measure_blocks(model, profile, repeats=3)
    assert all(b.measured_s is not None and b.measured_s > 0 for b in measured.blocks)
    assert [b.name for b in measured.blocks] == [b.name for b in profile.blocks]
