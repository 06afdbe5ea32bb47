"""The stage relay measurement: its cases, its fit, and one real stage process measured on loopback."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from seifer_iac.bench import hop_relay
from seifer_iac.bench.hop_relay import CASES, Link, RelayCase, fit_relay, thread_cpu_s


def test_cases_vary_input_and_output_sizes_apart():
    assert RelayCase("pool", 256).output_shape == (1, 128, 128, 16)
    assert RelayCase("upsample", 128).output_shape == (1, 256, 256, 16)
    sizes = {(hop_relay._nbytes(c.input_shape), hop_relay._nbytes(c.output_shape)) for c in CASES}
    assert len(sizes) == len(CASES)  # fixed, per-input and per-output costs are separable
    assert Link(None).label == "loopback" and Link(50e6).label == "emulated link 50 Mbit/s"


def test_the_fit_recovers_fixed_and_per_byte_costs():
    truth = (2e-4, 2.2e-9, 1.7e-9)
    rows = []
    for case in CASES:
        i, o = hop_relay._nbytes(case.input_shape), hop_relay._nbytes(case.output_shape)
        rows.append((i, o, truth[0] + truth[1] * i + truth[2] * o))
    fitted = fit_relay(rows)
    assert fitted["fixed_s"] == pytest.approx(truth[0], rel=1e-6)
    assert fitted["in_s_per_byte"] == pytest.approx(truth[1], rel=1e-6)
    assert fitted["out_s_per_byte"] == pytest.approx(truth[2], rel=1e-6)


def test_thread_cpu_time_counts_this_process_work():
    before = thread_cpu_s(os.getpid())
    end = time.process_time() + 0.05
    while time.process_time() < end:
        np.sqrt(np.arange(10_000.0))
    assert thread_cpu_s(os.getpid()) - before >= 0.04


def test_a_real_stage_process_costs_more_per_request_with_more_bytes(tmp_path: Path):
    """Two one-op stages (ReLU on 1 KiB and on 1 MiB) run as `python -m runtime.stage` on loopback."""
    small, large = RelayCase("relu", 4), RelayCase("relu", 128)
    spent = {}
    for case in (small, large):
        blob = hop_relay.tflite_blob(case)
        spent[case] = hop_relay.measure_case(case, blob, "none", 8, tmp_path, Link(None))
    assert 0 < spent[small] < 0.05
    assert spent[large] > spent[small]
