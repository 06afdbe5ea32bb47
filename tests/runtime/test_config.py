from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import pytest

from runtime import config as config_module
from runtime.codecs import CodecSpec
from runtime.config import ConfigError, DispatcherConfig, Encryption, StageConfig, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
SHA = "ab" * 32

STAGE = {
    "role": "stage",
    "pipeline": "mobilenet-dev",
    "stage": 1,
    "stages": 3,
    "modelName": "mobilenet-dev",
    "modelVersion": "1.0.0",
    "planHash": "9f2c",
    "listen": {"dataPort": 5601, "httpPort": 8601},
    "next": {"host": "mobilenet-dev-stage-2.seifer-dev.svc.cluster.local", "port": 5602},
    "codec": {"name": "zfp", "mode": "rate", "rate": 16},
    "queueDepth": 2,
    "weights": {
        "dir": "/var/lib/seifer/weights",
        "sha256": SHA,
        "size": 123,
        "chunks": [{"name": "mobilenet-dev-s1-0", "sha256": SHA, "size": 100}],
    },
    "backend": {"name": "litert", "precision": "fp32", "threads": 1},
    "input": {"name": "input", "shape": [1, 224, 224, 3], "datatype": "FP32"},
    "output": {"name": "block_2_add", "shape": [1, 56, 56, 24], "datatype": "FP32"},
}
DISPATCHER = {
    "role": "dispatcher",
    "pipeline": "mobilenet-dev",
    "stages": 3,
    "modelName": "mobilenet-dev",
    "modelVersion": "1.0.0",
    "planHash": "9f2c",
    "listen": {"httpPort": 8080, "resultPort": 5599},
    "first": {"host": "mobilenet-dev-stage-1.seifer-dev.svc.cluster.local", "port": 5601},
    "input": {"name": "input", "shape": [1, 224, 224, 3], "datatype": "FP32"},
    "output": {"name": "output", "shape": [1, 1000], "datatype": "FP32"},
    "codec": {"name": "lz4"},
    "queueDepth": 2,
    "deadlineSeconds": 10.0,
    "maxAttempts": 3,
    "maxInFlight": 64,
}


def test_contract_examples_parse() -> None:
    stage = parse_config(STAGE)
    assert isinstance(stage, StageConfig)
    assert stage.codec == CodecSpec("zfp", mode="rate", rate=16.0)
    assert stage.next.address == "tcp://mobilenet-dev-stage-2.seifer-dev.svc.cluster.local:5602"
    assert stage.weights.chunks[0].size == 100 and stage.address == "0.0.0.0" and stage.heartbeat_ms == 1000
    dispatcher = parse_config(DISPATCHER)
    assert isinstance(dispatcher, DispatcherConfig)
    assert dispatcher.attempt_timeout_seconds == pytest.approx(10.0 / 3)
    assert dispatcher.input.shape == (1, 224, 224, 3)


def test_defaults_and_optional_keys() -> None:
    data = copy.deepcopy(STAGE)
    del data["weights"]["dir"]
    data["listen"]["address"] = "127.0.0.1"
    data["heartbeatMs"] = 500
    cfg = parse_config(data)
    assert (
        cfg.weights.dir == "/var/lib/seifer/weights"
        and cfg.address == "127.0.0.1"
        and cfg.heartbeat_ms == 500
    )
    disp = copy.deepcopy(DISPATCHER)
    disp["attemptTimeoutSeconds"] = 1.5
    assert parse_config(disp).attempt_timeout_seconds == 1.5
    assert (cfg.max_batch, cfg.encryption, cfg.input_codec) == (1, Encryption("none", ""), None)


def test_hop_security_keys() -> None:
    data = copy.deepcopy(STAGE)
    data.update(maxBatch=8, inputCodec={"name": "lz4"}, encryption={"name": "curve", "keysDir": "/k"})
    data["input"]["shape"] = [-1, 224, 224, 3]
    cfg = parse_config(data)
    assert isinstance(cfg, StageConfig)
    assert (cfg.max_batch, cfg.input_codec, cfg.encryption) == (
        8,
        CodecSpec("lz4"),
        Encryption("curve", "/k"),
    )
    disp = copy.deepcopy(DISPATCHER)
    disp.update(resultCodec={"name": "none"}, encryption={"name": "none"})
    assert parse_config(disp).result_codec == CodecSpec("none")


def mutate(base: dict, path: str, value: object) -> dict:
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (mutate(STAGE, "listen.dataPort", 70000), "listen/dataPort"),
        (mutate(STAGE, "codec", {"name": "zfp", "mode": "rate"}), "codec"),
        (mutate(STAGE, "codec", {"name": "zfp", "mode": "rate", "rate": 8, "precision": 3}), "codec"),
        (mutate(STAGE, "weights.sha256", "xyz"), "weights/sha256"),
        (mutate(STAGE, "weights.chunks.0.name", "../etc/passwd"), "weights/chunks/0/name"),
        (mutate(STAGE, "queueDepth", 0), "queueDepth"),
        (mutate(STAGE, "planHash", KeyError), "(top level)"),
        (mutate(STAGE, "nxet", {}), "(top level)"),
        (mutate(DISPATCHER, "input.datatype", "FLOAT"), "input/datatype"),
        (mutate(DISPATCHER, "maxAttempts", 0), "maxAttempts"),
        (mutate(DISPATCHER, "role", "router"), "role"),
        (mutate(DISPATCHER, "input.shape", [1, -1, 3]), "input/shape"),
        (mutate(DISPATCHER, "encryption", {"name": "curve"}), "encryption"),
        (mutate(DISPATCHER, "encryption", {"name": "tls"}), "encryption"),
        (mutate(DISPATCHER, "maxBatch", 0), "maxBatch"),
        (mutate(STAGE, "inputCodec", {"name": "zfp", "mode": "rate", "rate": float("nan")}), "inputCodec"),
        (mutate(DISPATCHER, "codec", {"name": "zfp", "mode": "rate", "rate": 0.01}), "codec"),  # crashes zfpy
        (mutate(DISPATCHER, "resultCodec", {"name": "zfp", "mode": "rate", "rate": 2}), "resultCodec"),
    ],
)
def test_errors_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"config field {field}")):
        parse_config(data)


def test_stage_beyond_stages() -> None:
    with pytest.raises(ConfigError, match="stage: 4 is beyond stages=3"):
        parse_config(mutate(STAGE, "stage", 4))


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(DISPATCHER))
    assert isinstance(load_config(good), DispatcherConfig)


def test_load_config_refuses_a_pipe_a_huge_file_and_deep_nesting(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.json"
    os.mkfifo(pipe)
    with pytest.raises(ConfigError, match="named pipe"):
        load_config(pipe)
    huge = tmp_path / "huge.json"
    huge.write_text(" " * (2 << 20) + "{}")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(huge)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(deep)


def test_packaged_schema_is_identical_to_the_canonical_one() -> None:
    """The image ships only runtime/: its copy must be byte-identical to schemas/ (the contract)."""
    canonical = REPO / "schemas" / "stage-config.schema.json"
    packaged = REPO / "runtime" / "stage-config.schema.json"
    assert canonical.read_bytes() == packaged.read_bytes()


def test_schema_falls_back_to_packaged_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "site" / "runtime" / "config.py"
    fake.parent.mkdir(parents=True)
    (fake.parent / "stage-config.schema.json").write_text("{}")
    monkeypatch.setattr(config_module, "__file__", str(fake))
    assert config_module.schema_path() == fake.parent / "stage-config.schema.json"
