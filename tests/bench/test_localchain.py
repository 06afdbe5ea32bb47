from __future__ import annotations

import json
from pathlib import Path

from runtime.config import DispatcherConfig, StageConfig, load_config
from seifer_iac.bench.localchain import free_ports, rewrite_dispatcher, write_chain


def test_free_ports_are_distinct() -> None:
    ports = free_ports(10)
    assert len(set(ports)) == 10


def test_written_configs_validate_and_wire_the_chain(tmp_path: Path) -> None:
    tensor = {"name": "x", "shape": [-1, 4], "datatype": "FP32"}
    files = write_chain(
        tmp_path,
        [b"a" * 10, b"b" * 10, b"c" * 10],
        input_spec=tensor,
        output_spec=tensor,
        codecs=[
            {"name": "lz4"},
            {"name": "none"},
            {"name": "zfp", "mode": "rate", "rate": 8},
            {"name": "lz4"},
        ],
        chunk_size=4,
        deadlineSeconds=5.0,
    )
    stages = [load_config(p) for p in files.stage_configs]
    dispatcher = load_config(files.dispatcher_config)
    assert all(isinstance(s, StageConfig) for s in stages) and isinstance(dispatcher, DispatcherConfig)
    assert dispatcher.first.port == stages[0].data_port and dispatcher.deadline_seconds == 5.0
    assert [s.next.port for s in stages] == [stages[1].data_port, stages[2].data_port, dispatcher.result_port]
    assert len(stages[0].weights.chunks) == 3
    rewrite_dispatcher(files, deadlineSeconds=1.0)
    assert json.loads(files.dispatcher_config.read_text())["deadlineSeconds"] == 1.0
