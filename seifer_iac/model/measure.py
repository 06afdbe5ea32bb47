"""Time each block on this machine: `seifer profile --measure` fills `Block.measured_s`.

Each block runs alone as its own sub-model under `tf.function` (eager keras calls are several times
slower and would mislead the planner), on a fixed random input of the block's input shape, batch 1. After
warm-up calls (tracing), the median of `repeats` timed calls is kept: robust to the odd slow run on a
shared machine.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any

import numpy as np

from seifer_iac.model.split import split_stages
from seifer_iac.profile import Profile


def time_callable(function: Any, argument: Any, repeats: int = 5, warmup: int = 2) -> float:
    for _ in range(warmup):
        np.asarray(function(argument))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(function(argument))
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure_blocks(model: Any, profile: Profile, repeats: int = 5, progress: Any = lambda _: None) -> Profile:
    """The profile with `measured_s` set on every block (median seconds at batch 1)."""
    import tensorflow as tf

    parts = split_stages(model, [(i, i) for i in range(len(profile.blocks))])
    rng = np.random.default_rng(0)
    shape, dtype = profile.input_shape, profile.input_dtype
    blocks = []
    for index, (block, part) in enumerate(zip(profile.blocks, parts, strict=True)):
        progress(f"timing block {index + 1}/{len(parts)} ({block.name})")
        argument = tf.constant(rng.random(shape).astype(dtype))
        function = tf.function(lambda x, part=part: part(x, training=False))
        blocks.append(replace(block, measured_s=round(time_callable(function, argument, repeats), 9)))
        shape, dtype = block.output_shape, block.output_dtype
    return replace(profile, blocks=tuple(blocks))
