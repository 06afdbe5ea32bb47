"""Run inside the pod's network namespace (`nsenter --net=...`): wait until every pod is ready, then send
each input to the dispatcher over the Open Inference Protocol and save the answers.

Usage: python -m tests.images.netns_client JOB.json, where JOB holds ready (URLs), timeout (s), url and
model (the dispatcher), inputs and outputs (paths of .npy files).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from runtime.client import infer, wait_ready


def main(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    started = time.monotonic()
    for url in job["ready"]:
        wait_ready(url, timeout=max(1.0, job["timeout"] - (time.monotonic() - started)))
    ready_s = time.monotonic() - started
    inputs = np.load(job["inputs"])
    outputs = [infer(job["url"], job["model"], row[None, ...], timeout=60.0) for row in inputs]
    np.save(job["outputs"], np.concatenate(outputs))
    print(json.dumps({"ready_s": ready_s}))


if __name__ == "__main__":
    main(sys.argv[1])
