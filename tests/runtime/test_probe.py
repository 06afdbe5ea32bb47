"""`python -m runtime.probe`: real processes, real sockets on loopback, real LiteRT partitions.

The link figures here are loopback (no rate limit: only the protocol and its timing are checked); rates
against a configured link are measured in the emulator by tests/e2e/test_probe_local.py.
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime import probe
from runtime.weights import write_chunks
from tests.runtime.conftest import TinySplit

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("tensorflow", "keras")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _probe(*args: str, timeout: float = 60) -> tuple[dict, subprocess.CompletedProcess]:
    done = subprocess.run(
        [sys.executable, "-m", "runtime.probe", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return json.loads(lines[0]), done


@pytest.fixture
def receiver() -> Iterator[int]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.probe", "serve", "--port", str(port), "--host", "127.0.0.1"], cwd=ROOT
    )
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_link_prints_one_line_with_the_interface_keys_and_the_median_rate(receiver: int) -> None:
    result, done = _probe(
        "link", "--from", "a", "--to", "b", "--host", "127.0.0.1", "--port", str(receiver),
        "--bytes", "3000000", "--repeats", "5",
    )  # fmt: skip
    assert done.returncode == 0
    assert set(result) == {"seiferProbe", "kind", "from", "to", "bytes", "seconds", "bitsPerSecond", "error"}
    assert (result["seiferProbe"], result["kind"], result["from"], result["to"]) == (1, "link", "a", "b")
    assert result["error"] is None and result["bytes"] == 3_000_000 and len(result["seconds"]) == 5
    assert all(s > 0 for s in result["seconds"])
    assert result["bitsPerSecond"] == pytest.approx(3_000_000 * 8 / statistics.median(result["seconds"]))


def test_a_receiver_started_later_is_waited_for_within_the_connect_timeout() -> None:
    port = _free_port()
    started: list[subprocess.Popen] = []

    def start_late() -> None:
        time.sleep(1.0)
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "runtime.probe", "serve", "--port", str(port), "--count", "1"],
                cwd=ROOT,
            )
        )

    thread = threading.Thread(target=start_late)
    thread.start()
    try:
        result, _ = _probe(
            "link", "--from", "a", "--to", "b", "--host", "127.0.0.1", "--port", str(port),
            "--bytes", "1000", "--repeats", "2", "--connect-timeout", "20",
        )  # fmt: skip
    finally:
        thread.join()
    assert result["error"] is None and len(result["seconds"]) == 2
    assert started[0].wait(timeout=10) == 0  # --count 1: exits after the one connection


def test_count_counts_connections_that_carried_a_transfer_not_bare_connects() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.probe", "serve", "--port", str(port), "--count", "1"], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 20
        while True:  # a bare connect, as a kubelet's TCP check makes
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        time.sleep(0.5)
        assert proc.poll() is None  # still serving
        result, _ = _probe(
            "link", "--from", "a", "--to", "b", "--host", "127.0.0.1", "--port", str(port),
            "--bytes", "1000", "--repeats", "1",
        )  # fmt: skip
        assert result["error"] is None
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_refused_connection_is_an_error_line_with_exit_zero_and_no_hang() -> None:
    start = time.monotonic()
    result, done = _probe(
        "link", "--from", "a", "--to", "b", "--host", "127.0.0.1", "--port", str(_free_port()),
        "--bytes", "1000", "--repeats", "3", "--connect-timeout", "1",
    )  # fmt: skip
    assert time.monotonic() - start < 15
    assert done.returncode == 0
    assert result["seconds"] == [] and result["bitsPerSecond"] is None
    assert "cannot connect" in result["error"] and "\n" not in result["error"]


def test_a_receiver_that_never_reads_times_the_transfer_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True)
        thread.start()
        start = time.monotonic()
        result, done = _probe(
            "link", "--from", "a", "--to", "b", "--host", "127.0.0.1", "--port", str(port),
            "--bytes", "200000000", "--repeats", "1", "--timeout", "1",
        )  # fmt: skip
        for conn in accepted:
            conn.close()
    assert time.monotonic() - start < 20 and done.returncode == 0
    assert "took longer than 1 s" in result["error"] and result["bitsPerSecond"] is None


def test_the_receiver_hangs_up_on_what_is_not_a_probe() -> None:
    ours, theirs = socket.socketpair()
    served = []
    thread = threading.Thread(target=lambda: served.append(probe.handle_connection(theirs, 5.0)))
    thread.start()
    ours.sendall(probe.HEADER.pack(probe.MAGIC, 10) + b"x" * 10)
    assert ours.recv(probe.HEADER.size) == probe.HEADER.pack(probe.MAGIC, 10)
    ours.sendall(probe.HEADER.pack(b"HTTP", 10))
    assert ours.recv(16) == b""  # closed without an answer
    thread.join(timeout=5)
    assert served == [1]
    ours.close()


def _stage_config(index: int, split: TinySplit, weights: dict) -> dict:
    """A stage config as the manifests render it (schemas/stage-config.schema.json)."""
    return {
        "role": "stage", "pipeline": "tiny", "stage": index, "stages": 3, "modelName": "tiny",
        "modelVersion": "1", "planHash": "0" * 64,
        "listen": {"dataPort": 5600 + index, "httpPort": 8600 + index},
        "next": {"host": "127.0.0.1", "port": 5601 + index}, "codec": {"name": "none"}, "queueDepth": 2,
        "weights": weights, "backend": {"name": "litert", "precision": "fp32", "threads": 1},
        "input": split.tensors[index - 1], "output": split.tensors[index],
    }  # fmt: skip


def _probe_config(directory: Path, split: TinySplit) -> int:
    """The three tiny partitions as stage configs + weight chunks, and speed.json; returns their FLOPs
    (made up: the probe takes them from the config, the planner's figure)."""
    partitions = []
    for index, blob in enumerate(split.blobs, start=1):
        weights = write_chunks(blob, directory / "weights", 4096, prefix=f"s{index}")
        config = _stage_config(index, split, weights)
        (directory / f"stage-{index}.json").write_text(json.dumps(config))
        partitions.append({"config": f"stage-{index}.json", "flops": 1000 * index})
    speed = {
        "seiferProbe": 1, "node": "pi-1", "backend": {"name": "litert", "precision": "fp32", "threads": 1},
        "partitions": partitions,
    }  # fmt: skip
    (directory / "speed.json").write_text(json.dumps(speed))
    return sum(p["flops"] for p in partitions)


def test_speed_runs_the_partitions_and_divides_their_flops_by_the_median_pass(
    tiny_split: TinySplit, tmp_path: Path
) -> None:
    flops = _probe_config(tmp_path, tiny_split)
    result, done = _probe("speed", "--node", "pi-1", "--config", str(tmp_path), "--repeats", "3",
                          "--min-seconds", "0.05")  # fmt: skip
    assert done.returncode == 0 and result["error"] is None, result
    assert set(result) == {
        "seiferProbe", "kind", "node", "backend", "precision", "flops", "seconds", "flopsPerSecond", "error"
    }  # fmt: skip
    assert (result["kind"], result["node"], result["backend"], result["precision"]) == (
        "speed",
        "pi-1",
        "litert",
        "fp32",
    )
    assert result["flops"] == flops and len(result["seconds"]) == 3
    assert result["flopsPerSecond"] == pytest.approx(flops / statistics.median(result["seconds"]), rel=1e-3)


def test_the_speed_probe_on_litert_imports_no_tensorflow(tiny_split: TinySplit, tmp_path: Path) -> None:
    _probe_config(tmp_path, tiny_split)
    code = (
        "import sys, runtime.probe as p\n"
        f"p.main(['speed', '--node', 'n', '--config', {str(tmp_path)!r}, '--repeats', '1',"
        " '--min-seconds', '0'])\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, check=True
    )
    first, last = out.stdout.strip().splitlines()
    assert json.loads(first)["error"] is None
    assert last == "[]"


GOOD_BACKEND = {"name": "litert", "precision": "fp32", "threads": 1}


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ("not json", "is not JSON"),
        ({"backend": GOOD_BACKEND, "partitions": []}, "missing 'seiferProbe'"),
        ({"seiferProbe": 2, "backend": GOOD_BACKEND, "partitions": []}, "reads format 1"),
        ({"seiferProbe": 1, "partitions": []}, "missing 'backend'"),
        ({"seiferProbe": 1, "backend": {"name": "onnx"}, "partitions": [{}]}, "backend.name"),
        ({"seiferProbe": 1, "backend": {"name": "litert", "threads": 0}, "partitions": [{}]},
         "backend.threads"),
        ({"seiferProbe": 1, "backend": GOOD_BACKEND, "partitions": []}, "partitions: empty"),
        ({"seiferProbe": 1, "backend": GOOD_BACKEND, "partitions": [{"flops": 1}]},
         "partitions[0]: missing 'config'"),
        ({"seiferProbe": 1, "backend": GOOD_BACKEND, "partitions": [{"config": "s.json", "flops": -1}]},
         "partitions[0].flops"),
        ({"seiferProbe": 1, "backend": GOOD_BACKEND, "partitions": [{"config": "missing.json", "flops": 1}]},
         "cannot read config"),
    ],
)  # fmt: skip
def test_a_bad_speed_config_is_one_error_line_naming_the_field(
    tmp_path: Path, config: object, named: str
) -> None:
    (tmp_path / "speed.json").write_text(config if isinstance(config, str) else json.dumps(config))
    result, done = _probe("speed", "--node", "n", "--config", str(tmp_path), "--repeats", "1")
    assert done.returncode == 0
    assert named in result["error"], result["error"]
    assert result["flopsPerSecond"] is None and result["seconds"] == []


def test_a_corrupt_weight_chunk_or_a_blob_litert_cannot_load_is_an_error_line(
    tiny_split: TinySplit, tmp_path: Path
) -> None:
    _probe_config(tmp_path, tiny_split)
    chunk = sorted((tmp_path / "weights").iterdir())[0]
    chunk.write_bytes(b"x" + chunk.read_bytes()[1:])
    result, _ = _probe("speed", "--node", "n", "--config", str(tmp_path), "--repeats", "1")
    assert "sha256" in result["error"] and "stage-1.json" in result["error"]
    garbage = write_chunks(b"not a flatbuffer" * 8, tmp_path / "junk", 4096, prefix="junk")
    (tmp_path / "stage-1.json").write_text(json.dumps(_stage_config(1, tiny_split, garbage)))
    result, done = _probe("speed", "--node", "n", "--config", str(tmp_path), "--repeats", "1")
    assert done.returncode == 0 and "LiteRT cannot load" in result["error"], result["error"]


# ---------------------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--port", "70000"], "--port: 70000 is not from 1 to 65535"),
        (["--port", "1", "--bytes", "99999999999999999999"], "--bytes"),
        (["--port", "1", "--bytes", "abc"], "'abc' is not a whole number"),
        (["--port", "1", "--repeats", "0"], "--repeats"),
        (["--port", "1", "--connect-timeout", "inf"], "--connect-timeout"),
        (["--port", "1", "--timeout", "nan"], "--timeout"),
        (["--port", "1", "--unknown"], "unrecognized arguments"),
        ([], "required: --port"),
    ],
)
def test_bad_link_arguments_are_one_error_line_with_exit_zero(args: list[str], named: str) -> None:
    result, done = _probe("link", "--from", "a", "--to", "b", "--host", "127.0.0.1", *args, timeout=20)
    assert done.returncode == 0 and named in result["error"], result
    assert (result["from"], result["to"], result["seconds"], result["bitsPerSecond"]) == ("a", "b", [], None)


@pytest.mark.parametrize("args", [["--min-seconds", "inf"], ["--repeats", "-1"], ["--repeats", "x"]])
def test_bad_speed_arguments_are_one_error_line_never_a_probe_that_runs_forever(
    tmp_path: Path, args: list[str]
) -> None:
    result, done = _probe("speed", "--node", "n", "--config", str(tmp_path), *args, timeout=20)
    assert done.returncode == 0 and "bad arguments" in result["error"] and result["node"] == "n"


def test_a_bad_serve_argument_is_one_line_on_stderr_and_exit_two() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "runtime.probe", "serve", "--port", "0"],
        capture_output=True, text=True, timeout=20, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr and "--port" in done.stderr


@pytest.mark.parametrize(
    ("write", "named"),
    [
        (lambda p: os.mkfifo(p), "named pipe"),  # before: open() waited for a writer forever
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: p.write_text(" " * (2 << 20)), "larger than"),
        (lambda p: p.write_text("[" * 200_000 + "]" * 200_000), "is not JSON"),
        (lambda p: p.write_bytes(b"\xff\xfe{}"), "is not JSON"),
        (lambda p: p.write_text("1" * 5000), "is not JSON"),
    ],
)
def test_a_hostile_speed_json_is_an_error_line_without_a_hang(tmp_path: Path, write, named: str) -> None:
    write(tmp_path / "speed.json")
    result, done = _probe("speed", "--node", "n", "--config", str(tmp_path), "--repeats", "1", timeout=20)
    assert done.returncode == 0 and named in result["error"], result["error"]


@pytest.mark.parametrize(
    ("backend", "config", "named"),
    [
        ({"name": "litert", "threads": 10**9}, "stage-1.json", "backend.threads"),
        ({"name": "litert", "precision": ["fp32"]}, "stage-1.json", "backend.precision"),
        (GOOD_BACKEND, "../stage-1.json", "is not a file name in"),
        (GOOD_BACKEND, "/etc/passwd", "is not a file name in"),
    ],
)
def test_a_speed_config_reaching_outside_its_folder_or_asking_absurd_threads_is_refused(
    tmp_path: Path, backend: dict, config: str, named: str
) -> None:
    document = {"seiferProbe": 1, "backend": backend, "partitions": [{"config": config, "flops": 1}]}
    (tmp_path / "speed.json").write_text(json.dumps(document))
    result, done = _probe("speed", "--node", "n", "--config", str(tmp_path), "--repeats", "1", timeout=20)
    assert done.returncode == 0 and named in result["error"], result["error"]


def test_a_sender_that_trickles_is_dropped_by_its_deadline_not_kept_for_its_declared_length() -> None:
    ours, theirs = socket.socketpair()
    served: list[int] = []
    thread = threading.Thread(target=lambda: served.append(probe.handle_connection(theirs, 0.5)))
    thread.start()
    start = time.monotonic()
    ours.sendall(probe.HEADER.pack(probe.MAGIC, 1500))  # allowed 0.5 s + 1500 B / 1000 B/s = 2 s
    try:
        while thread.is_alive() and time.monotonic() - start < 30:
            ours.sendall(b"x")  # a byte every 0.1 s: each within the idle timeout, 10 B/s in all
            time.sleep(0.1)
    except OSError:
        pass  # hung up on
    thread.join(timeout=5)
    assert served == [0] and time.monotonic() - start < 5  # before: 150 s, one idle timeout per byte
    ours.close()


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


def test_many_silent_connections_hold_bounded_threads_and_a_real_transfer_still_gets_through() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.probe", "serve", "--port", str(port), "--host", "127.0.0.1",
         "--idle-timeout", "5"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    silent: list[socket.socket] = []
    try:
        time.sleep(0.5)
        for _ in range(90):  # the slots, then the listen backlog (64)
            silent.append(socket.create_connection(("127.0.0.1", port), timeout=5))  # never send a byte
        garbage = socket.create_connection(("127.0.0.1", port), timeout=5)
        garbage.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 4)
        time.sleep(0.5)
        assert _threads(proc.pid) <= probe.MAX_CONNECTIONS + 4  # before: one thread per connection
        for conn in silent:
            conn.close()  # a half-open peer would be dropped by the idle timeout instead
        result, _ = _probe("link", "--from", "a", "--to", "b", "--host", "127.0.0.1", "--port", str(port),
                           "--bytes", "100000", "--repeats", "2", "--connect-timeout", "10")  # fmt: skip
        assert result["error"] is None and proc.poll() is None
        garbage.close()
    finally:
        for conn in silent:
            conn.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_running_out_of_descriptors_is_waited_out_not_a_crash() -> None:
    port = _free_port()
    limit = "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))\n"
    code = limit + f"from runtime import probe\nraise SystemExit(probe.main(['serve', '--port', '{port}']))\n"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    held: list[socket.socket] = []
    try:
        time.sleep(1.0)
        for _ in range(40):  # more than its descriptors: accept() fails with EMFILE
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""  # before: exit 1
        for conn in held:
            conn.close()
        held.clear()
        result, _ = _probe("link", "--from", "a", "--to", "b", "--host", "127.0.0.1", "--port", str(port),
                           "--bytes", "1000", "--repeats", "1", "--connect-timeout", "10")  # fmt: skip
        assert result["error"] is None, result
    finally:
        for conn in held:
            conn.close()
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("trial", range(9))
def test_a_mutated_partition_with_matching_digests_is_one_line_in_a_subprocess(
    tiny_split: TinySplit, tmp_path: Path, trial: int
) -> None:
    """The weights' sha256 is what the config says, but the flatbuffer is truncated or has bytes flipped:
    LiteRT's verifier may refuse it, or it may run; the probe (a subprocess: a decoder may crash) prints
    one line either way. Explored with 40 such blobs: none crashed the process."""
    rng = random.Random(trial)
    data = bytearray(tiny_split.blobs[0])
    if trial % 3 == 0:
        data = data[: rng.randrange(8, len(data))]
    else:
        for _ in range(rng.choice([1, 4, 32])):
            data[rng.randrange(len(data))] = rng.randrange(256)
    weights = write_chunks(bytes(data), tmp_path / "weights", 4096, prefix="s1")
    (tmp_path / "stage-1.json").write_text(json.dumps(_stage_config(1, tiny_split, weights)))
    partitions = [{"config": "stage-1.json", "flops": 1}]
    document = {"seiferProbe": 1, "backend": GOOD_BACKEND, "partitions": partitions}
    (tmp_path / "speed.json").write_text(json.dumps(document))
    result, done = _probe("speed", "--node", "n", "--config", str(tmp_path), "--repeats", "1",
                          "--min-seconds", "0", timeout=60)  # fmt: skip
    assert done.returncode == 0 and (result["error"] is None) == (result["flopsPerSecond"] is not None)
