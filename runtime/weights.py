"""Weight loader: concatenate the mounted chunk files, verify every sha256 and size, return the partition.

Chunks arrive as read-only files (one per ConfigMap) in ``weights.dir``. Any mismatch raises WeightsError
whose message names the file and what differs; the stage worker turns it into "unready + one clear log
line" instead of crash-looping, so ``kubectl describe`` and the logs say exactly which chunk is wrong.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from runtime.config import WeightsConfig
from runtime.files import read_regular


class WeightsError(RuntimeError):
    """The mounted weights do not match the config (missing file, wrong size or wrong sha256)."""


def read_weights(weights: WeightsConfig) -> bytes:
    """The verified partition blob: chunks in list order, each checked, then the whole blob checked."""
    parts: list[bytes] = []  # joined once below: the blob is held twice only until parts is dropped
    for chunk in weights.chunks:
        path = Path(weights.dir) / chunk.name
        try:
            data = read_regular(path, chunk.size)
        except OSError as exc:
            raise WeightsError(f"weight chunk {chunk.name} unreadable at {path}: {exc.strerror}") from exc
        if len(data) != chunk.size:
            raise WeightsError(
                f"weight chunk {chunk.name}: {len(data)} bytes on disk, config says {chunk.size}"
            )
        digest = hashlib.sha256(data).hexdigest()
        if digest != chunk.sha256:
            raise WeightsError(
                f"weight chunk {chunk.name}: sha256 {digest[:12]}... != expected {chunk.sha256[:12]}..."
            )
        parts.append(data)
    blob = b"".join(parts)
    if len(blob) != weights.size:
        raise WeightsError(
            f"partition is {len(blob)} bytes after joining the chunks, config says {weights.size}"
        )
    digest = hashlib.sha256(blob).hexdigest()
    if digest != weights.sha256:
        raise WeightsError(f"partition sha256 {digest[:12]}... != expected {weights.sha256[:12]}...")
    return blob


def write_chunks(blob: bytes, directory: str | Path, chunk_size: int, prefix: str = "part") -> dict[str, Any]:
    """Split ``blob`` into chunk files under ``directory``; returns the config's ``weights`` object.

    The inverse of ``read_weights`` for tests, benchmarks and local runs (the planner side has its own
    content-addressed artifacts; this one only has to produce what the stage worker reads).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    chunks = []
    for index, start in enumerate(range(0, max(len(blob), 1), chunk_size)):
        data = blob[start : start + chunk_size]
        name = f"{prefix}-{index:04d}"
        (directory / name).write_bytes(data)
        chunks.append({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    return {
        "dir": str(directory),
        "sha256": hashlib.sha256(blob).hexdigest(),
        "size": len(blob),
        "chunks": chunks,
    }
