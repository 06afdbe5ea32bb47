"""The benchmark's pure parts (the process-spawning parts run in `seifer bench runtime`)."""

from __future__ import annotations

import numpy as np

from runtime.codecs import CodecSpec
from seifer_iac.bench.runtime import (
    ChainResult,
    CodecResult,
    HopResult,
    Results,
    bench_codecs,
    codec_label,
    to_markdown,
)


def test_codec_table_on_a_sparse_activation() -> None:
    activation = np.maximum(np.random.default_rng(0).standard_normal((1, 16, 16, 8)), 0).astype(np.float32)
    rows, squeeze_ratio = bench_codecs(activation, repeat=2)
    by_name = {r.codec: r for r in rows}
    assert by_name["none"].ratio == 1.0 and by_name["lz4"].max_abs_error == 0
    assert by_name["zfp rate 8"].ratio > 3.5
    assert by_name["zfp tolerance 0.001"].max_abs_error <= 1e-3
    assert squeeze_ratio < 1.0


def test_markdown_tables() -> None:
    results = Results(
        (1, 56, 56, 64),
        (HopResult("none", 1.0, 2.5, 1.5, 1048576),),
        (CodecResult("lz4", 1.4, 400.0, 1300.0, 0.0),),
        (ChainResult("unsplit", 100.0, 8.0),),
        0.25,
        2,
    )
    text = to_markdown(results)
    assert "| none | 1048576 | 1.00 | 2.50 | 1.50 |" in text and "| unsplit | 100.0 | 8.00 |" in text
    assert codec_label(CodecSpec("zfp", mode="tolerance", tolerance=1e-3)) == "zfp tolerance 0.001"
