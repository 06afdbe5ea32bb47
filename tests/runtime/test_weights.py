from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from runtime.config import Chunk, WeightsConfig
from runtime.weights import WeightsError, read_weights, write_chunks


def weights_config(data: dict) -> WeightsConfig:
    chunks = tuple(Chunk(c["name"], c["sha256"], c["size"]) for c in data["chunks"])
    return WeightsConfig(data["dir"], data["sha256"], data["size"], chunks)


def test_chunks_round_trip_in_list_order(tmp_path: Path) -> None:
    blob = bytes(range(256)) * 40
    cfg = weights_config(write_chunks(blob, tmp_path, chunk_size=1000))
    assert len(cfg.chunks) == 11
    assert read_weights(cfg) == blob


def test_corrupt_chunk_names_the_file(tmp_path: Path) -> None:
    cfg = weights_config(write_chunks(b"a" * 5000, tmp_path, chunk_size=2000))
    victim = tmp_path / cfg.chunks[1].name
    victim.write_bytes(b"b" * 2000)
    with pytest.raises(WeightsError, match=f"weight chunk {cfg.chunks[1].name}: sha256"):
        read_weights(cfg)
    victim.write_bytes(b"a" * 1999)
    with pytest.raises(WeightsError, match="1999 bytes on disk, config says 2000"):
        read_weights(cfg)
    victim.write_bytes(b"a" * 2001)  # larger than listed: refused before reading more than it should be
    with pytest.raises(WeightsError, match="larger than the 2,000 bytes expected"):
        read_weights(cfg)
    victim.unlink()
    os.mkfifo(victim)  # a pipe in its place: refused at once, not waited on
    with pytest.raises(WeightsError, match="named pipe"):
        read_weights(cfg)
    victim.unlink()
    with pytest.raises(WeightsError, match="unreadable"):
        read_weights(cfg)


def test_whole_blob_hash_is_checked(tmp_path: Path) -> None:
    cfg = weights_config(write_chunks(bytes(range(100)), tmp_path, chunk_size=40))
    with pytest.raises(WeightsError, match="partition sha256"):
        read_weights(dataclasses.replace(cfg, sha256="0" * 64))
    with pytest.raises(WeightsError, match="after joining the chunks"):
        read_weights(dataclasses.replace(cfg, size=99))
    reordered = dataclasses.replace(cfg, chunks=tuple(reversed(cfg.chunks)))
    with pytest.raises(WeightsError):
        read_weights(reordered)


def test_verified_blob_loads_in_either_backend(tmp_path: Path, tiny_split) -> None:
    from runtime.backends import load_runner
    from runtime.config import BackendConfig

    x = np.zeros((1, 8, 8, 3), np.float32)
    for backend, blob in (("litert", tiny_split.blobs[0]), ("tensorflow", tiny_split.keras_blobs[0])):
        cfg = weights_config(write_chunks(blob, tmp_path / backend, chunk_size=1024))
        run = load_runner(BackendConfig(backend), read_weights(cfg))
        assert run(x).shape == (1, 8, 8, 4)


def test_foreign_blob_is_a_backend_error_in_either_backend(tmp_path: Path) -> None:
    from runtime.backends import BackendError, load_runner
    from runtime.config import BackendConfig

    cfg = weights_config(write_chunks(b"not a zip at all", tmp_path, chunk_size=1024))
    for backend in ("litert", "tensorflow"):
        with pytest.raises(BackendError, match="cannot load the partition"):
            load_runner(BackendConfig(backend), read_weights(cfg))
