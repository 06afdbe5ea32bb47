"""A real 3-stage chain on loopback: three `python -m runtime.stage` processes and a dispatcher.

Codecs differ per hop (dispatcher none, stage 1 lz4, stage 2 none, stage 3 lz4; the session ``chain``
fixture in conftest) so both lossless codecs are exercised, and answers equal the unsplit model's bit for bit.
"""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import zmq
from click.testing import CliRunner

from runtime.client import infer
from runtime.codecs import CodecSpec
from runtime.frames import Header, encode
from runtime.metrics import parse_text
from seifer_iac.bench.localchain import ChainFiles, LocalChain

from .conftest import PLAN, VERSION, TinySplit, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def files(chain: LocalChain) -> ChainFiles:
    return chain.files


def stage_metrics(files: ChainFiles, stage: int) -> dict[str, float]:
    with urllib.request.urlopen(files.stage_url(stage) + "/metrics", timeout=5) as resp:
        return parse_text(resp.read().decode())


def test_chain_equals_unsplit_model_within_float_error(files: ChainFiles, tiny_split: TinySplit) -> None:
    rng = np.random.default_rng(0)
    for batch in (1, 1, 3):
        x = rng.standard_normal((batch, 8, 8, 3)).astype(np.float32)
        y = infer(files.url, "tiny", x)
        assert y.shape == (batch, 10) and y.dtype == np.float32
        np.testing.assert_allclose(y, tiny_split.reference(x), rtol=0, atol=1e-5)


def test_concurrent_requests_each_get_their_own_answer(files: ChainFiles, tiny_split: TinySplit) -> None:
    xs = [np.random.default_rng(i).standard_normal((1, 8, 8, 3)).astype(np.float32) for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        ys = list(pool.map(lambda x: infer(files.url, "tiny", x, input_name="input"), xs))
    for x, y in zip(xs, ys, strict=True):
        np.testing.assert_allclose(y, tiny_split.reference(x), rtol=0, atol=1e-5)


def _push(port: int, messages: list[list[bytes]]) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 2000)
    sock.connect(f"tcp://127.0.0.1:{port}")
    for frames in messages:
        sock.send_multipart(frames)
    sock.close()
    ctx.term()


def test_random_truncated_and_foreign_frames_are_counted_and_the_stage_keeps_serving(
    files: ChainFiles, tiny_split: TinySplit
) -> None:
    rng = np.random.default_rng(1)
    activation = rng.standard_normal((1, 8, 8, 4)).astype(np.float32)
    good = [bytes(f) for f in encode(Header(1, 1, PLAN, VERSION, 2, codec=CodecSpec("lz4")), activation)]
    other_plan = [bytes(f) for f in encode(Header(2, 1, "plan-OLD", VERSION, 2), activation)]
    other_version = [bytes(f) for f in encode(Header(3, 1, PLAN, "0.9.0", 2), activation)]
    wrong_shape = [
        bytes(f) for f in encode(Header(4, 1, PLAN, VERSION, 2), np.zeros((1, 8, 8, 5), np.float32))
    ]
    messages = [
        [rng.bytes(64)],
        [rng.bytes(100), rng.bytes(1000)],
        [good[0], good[1][: len(good[1]) // 2]],
        [good[0][:30], good[1]],
        other_plan,
        other_version,
        wrong_shape,
    ]
    _push(files.data_ports[1], messages)

    def counted() -> bool:
        m = stage_metrics(files, 2)
        return all(
            m.get(f'seifer_stage_rejected_total{{reason="{r}"}}', 0) >= 1
            for r in (
                "frame_count",
                "bad_magic",
                "truncated",
                "bad_header",
                "plan_hash",
                "model_version",
                "run_error",
            )
        )

    assert wait_for(counted, 10), stage_metrics(files, 2)
    x = rng.standard_normal((1, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(infer(files.url, "tiny", x), tiny_split.reference(x), rtol=0, atol=1e-5)


def test_stage_and_dispatcher_metrics(files: ChainFiles) -> None:
    infer(files.url, "tiny", np.zeros((1, 8, 8, 3), np.float32))
    for stage in (1, 2, 3):
        m = stage_metrics(files, stage)
        assert m["seifer_stage_requests_total"] >= 1 and m["seifer_stage_ready"] == 1
        assert m["seifer_stage_bytes_in_total"] > 0 and m["seifer_stage_bytes_out_total"] > 0
        assert m["seifer_stage_latency_seconds_count"] >= 1 and m["seifer_stage_queue_depth"] == 2
    with urllib.request.urlopen(files.url + "/metrics", timeout=5) as resp:
        m = parse_text(resp.read().decode())
    assert m['seifer_dispatcher_requests_total{code="200"}'] >= 1 and m["seifer_dispatcher_in_flight"] == 0


def test_cli_infer_random_and_npy(files: ChainFiles, tmp_path: Path, tiny_split: TinySplit) -> None:
    from seifer_iac.cli.infer import command

    result = CliRunner().invoke(command, [files.url, "random", "--model", "tiny", "--repeat", "3"])
    assert result.exit_code == 0, result.output
    assert "top-5:" in result.output and "latency:" in result.output and "over 3 request(s)" in result.output
    x = np.random.default_rng(5).standard_normal((1, 8, 8, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = CliRunner().invoke(command, [files.url, str(tmp_path / "x.npy")])  # model found via the index
    assert result.exit_code == 0, result.output
    best = int(np.argmax(tiny_split.reference(x)[0]))
    assert f"1. class {best:>5}" in result.output
    result = CliRunner().invoke(command, [files.url, "nothing.npy", "--model", "tiny"])
    assert result.exit_code != 0 and "neither a .npy file nor 'random'" in result.output
    result = CliRunner().invoke(command, [files.url, "random", "--model", "wrong"])
    assert result.exit_code == 1 and "not found" in result.output


def test_dispatcher_metadata_matches_config(files: ChainFiles, tiny_split: TinySplit) -> None:
    with urllib.request.urlopen(files.url + "/v2/models/tiny", timeout=5) as resp:
        meta = json.loads(resp.read())
    assert meta["inputs"] == [tiny_split.input_spec] and meta["outputs"] == [tiny_split.output_spec]
