"""The profile document: the schema plus what a schema cannot say (bytes that contradict shape and dtype,
unknown dtypes, a batch axis that is not 1, repeated names, non-finite timings), and whether a fixed zfp
rate suits every tensor of the model (checked against the real zfpy)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import zfpy

from seifer_iac.profile import ProfileError, codec_problems, profile_from_dict, semantic_problems
from seifer_iac.spec.model import Codec, zfp_fixed_rate_bytes, zfp_min_rate
from tests.planner.conftest import toy_profile_json


def toy() -> dict:
    return json.loads(toy_profile_json())


def test_the_toy_profile_is_consistent() -> None:
    assert semantic_problems(toy()) == []
    assert profile_from_dict(toy(), source="toy.json").model_name == "toy"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(input_bytes=d["input_bytes"] + 4), "input_bytes"),
        (lambda d: d.update(input_dtype="float24"), "input_dtype"),
        (lambda d: d.update(input_shape=[2, 75000]), "input_shape"),
        (lambda d: d["blocks"][1].update(output_shape=[1, 7]), "blocks[1].output_bytes"),
        (lambda d: d["blocks"][1].update(output_dtype="float16"), "blocks[1].output_bytes"),
        (lambda d: d["blocks"][2].update(name=d["blocks"][0]["name"]), "blocks[2].name"),
        (lambda d: d["blocks"][2].update(layers=d["blocks"][0]["layers"]), "blocks[2].layers[0]"),
        (lambda d: d["blocks"][2].update(measured_s=float("nan")), "blocks[2].measured_s"),
    ],
)
def test_contradictions_name_the_field_and_the_file(mutate, field: str) -> None:
    data = toy()
    mutate(data)
    with pytest.raises(ProfileError) as caught:
        profile_from_dict(data, source="toy.json")
    assert str(caught.value).startswith("toy.json: ") and field in str(caught.value)


def test_the_last_block_may_carry_more_outputs_than_its_first_shape() -> None:
    data = toy()
    data["blocks"][-1]["output_bytes"] += 4000  # a second model output
    assert semantic_problems(data) == []
    data["blocks"][-1]["output_bytes"] = 4  # but never less than its first output
    assert semantic_problems(data)[0].startswith("blocks[5].output_bytes")


def test_a_zfp_rate_is_checked_against_every_tensor() -> None:
    profile = profile_from_dict(toy())  # every tensor is [1, N]: 1-D for zfp
    assert codec_problems(profile, Codec("zfp", "rate", rate=2.125)) == []
    problems = codec_problems(profile, Codec("zfp", "rate", rate=2.0))
    assert len(problems) == 1 and problems[0].startswith("runtime.codec.rate: 2 is too low")
    assert "rate >= 2.125" in problems[0]
    assert codec_problems(profile, Codec("lz4")) == []


CRASH = """
import sys, numpy as np, zfpy
shape = {1: (1001,), 2: (41, 43), 3: (17, 13, 9), 4: (5, 7, 9, 6)}[int(sys.argv[1])]
a = np.random.default_rng(0).random(shape).astype(np.float32)
zfpy.decompress_numpy(zfpy.compress_numpy(a, rate=float(sys.argv[2])))
"""


@pytest.mark.parametrize("ndims", [1, 2, 3, 4])
def test_the_minimum_rate_is_zfpys_real_edge(ndims: int) -> None:
    """At zfp_min_rate zfpy codes the array; 1% below it the process dies (measured with zfpy 1.0.1:
    zfp raises a fixed rate to 9 bits per block, zfpy's buffer is sized from the smaller rate)."""
    rate = zfp_min_rate(ndims)
    ok = subprocess.run(
        [sys.executable, "-c", CRASH, str(ndims), repr(rate)], capture_output=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    below = subprocess.run(
        [sys.executable, "-c", CRASH, str(ndims), repr(rate * 0.99)], capture_output=True, timeout=60
    )
    assert below.returncode != 0


@pytest.mark.parametrize(
    ("shape", "rate"),
    [
        ((1, 1000), 2.125),
        ((1, 1000), 2.9),
        ((1, 56, 56, 24), 0.15),
        ((1, 7, 7, 1280), 1.7),
        ((3, 5, 7, 9, 11), 0.2),
    ],
)
def test_fixed_rate_bytes_are_exact_for_fractional_rates(shape: tuple[int, ...], rate: float) -> None:
    array = np.random.default_rng(0).random(shape).astype(np.float32).squeeze()
    if array.ndim > 4:
        array = array.reshape(-1, *array.shape[-3:])
    assert len(zfpy.compress_numpy(array, rate=rate)) == zfp_fixed_rate_bytes(shape, rate)
