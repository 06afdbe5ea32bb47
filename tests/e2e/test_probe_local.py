"""`seifer probe --local` on an emulated cluster of six nodes with asymmetric links and six node speeds.

Real probe processes in real network namespaces (HTB-shaped links) and CPU cgroups (root only; skipped
cleanly otherwise), the real command writing the real measured-cluster file, read back by its loader.

What is compared with what, and why it holds on a loaded 2-core CI host:
- Links: the file's rate (the median of the repeats) against the configured rate. The probe reports TCP
  PAYLOAD bits/s, what the runtime sees; an HTB class counts whole frames, so payload is about 95 % of the
  class's rate, inside the 10 %. At a few Mbit/s a transfer needs almost no CPU, and the rate limit is a
  ceiling that host load cannot raise, so the median is stable.
- Node speeds: the fastest repeat (the file's `max`) against the spec's speed, within 20 %, and their
  order. A CPU quota is a ceiling too: other work on the host can only slow a repeat (it takes CPU, caches
  and memory bandwidth), never speed it past the quota, so the noise is one-sided and the best repeat is
  the estimate it cannot bias. The speeds are set as fractions of this host's calibrated core (the
  calibration the probe itself uses, measured fresh in this test's cache), 1.3x apart so their order
  means something, and together below the cores the host can give (no dilation on two cores).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from seifer_iac.local import cgroups, netns
from seifer_iac.local.runner import LocalOptions, host_calibration
from seifer_iac.probe.local import available, probe_name
from seifer_iac.probe.measured import load_measured
from seifer_iac.release import build_release
from seifer_iac.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
SHARES = {"gw": 0.34, "n1": 0.26, "n2": 0.2, "n3": 0.15, "n4": 0.115, "n5": 0.088}  # of one host core
LINKS = {  # Mbit/s, directed (gw->n3 alone: both ways); every other pair has no link (no default bandwidth)
    ("gw", "n1"): 8, ("n1", "gw"): 3,
    ("n1", "n2"): 6, ("n2", "n1"): 4,
    ("n2", "n3"): 5, ("n3", "n2"): 10,
    ("n3", "n4"): 3, ("n4", "n3"): 7,
    ("n4", "n5"): 9, ("n5", "n4"): 4,
    ("n5", "gw"): 6, ("gw", "n5"): 5,
    ("gw", "n3"): 4,
}  # fmt: skip

SPEC = """\
apiVersion: seifer.dev/v1alpha1
kind: Pipeline
metadata: {{name: probe-e2e, namespace: e2e}}
model: {{file: tiny.keras, version: "1", inputShape: [512]}}
cluster:
  nodes:
{nodes}
  bandwidth:
    links:
{links}
dispatcher: {{node: gw, port: 8080, deadline: 30s}}
runtime: {{image: seifer-runtime:test, codec: none, queueDepth: 2}}
planner: {{objective: communication}}
weights: {{chunkSize: 512Ki}}
"""


def write_spec(path: Path, speeds: dict[str, float]) -> Path:
    nodes = "\n".join(
        f"    - {{name: {name}, speed: {speeds[name] / 1e6:.0f}MFLOPS, "
        + ("memory: 1Gi, schedulable: false}" if name == "gw" else "memory: 90Mi}")
        for name in SHARES
    )
    links = "\n".join(
        f"      - {{from: {a}, to: {b}, bandwidth: {rate}Mbps}}" for (a, b), rate in sorted(LINKS.items())
    )
    path.write_text(SPEC.format(nodes=nodes, links=links))
    return path


@pytest.fixture(scope="module")
def root_only() -> None:
    ok, reason = available()
    if not ok:
        pytest.skip(reason)


def _leftovers(pipeline: str) -> list[str]:
    name = probe_name(pipeline)
    namespaces = [ns for ns in netns.list_netns() if ns.startswith(netns.name_prefix(name))]
    groups = [
        str(p)
        for c in cgroups.discover().values()
        for parent in {c.own, c.root}
        for p in Path(parent).glob(cgroups.name_prefix(name) + "*")
    ]
    return namespaces + groups


@pytest.mark.netns
@pytest.mark.cgroups
@pytest.mark.slow
def test_probe_local_measures_every_link_within_10_percent_and_node_speeds_within_20(
    root_only: None, tmp_path: Path, tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "tiny.keras").write_bytes(tiny_model_path.read_bytes())
    spec_path = tmp_path / "probe.pipeline.yaml"
    # the host's core on this model's blocks first (the same cached calibration the probe then uses)
    first = build_release(write_spec(spec_path, dict.fromkeys(SHARES, 1e9)))
    host = host_calibration(first, LocalOptions(run_dir=tmp_path / "calibrate")).flops_per_s
    speeds = {name: share * host for name, share in SHARES.items()}
    write_spec(spec_path, speeds)
    out = tmp_path / "cluster.measured.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "seifer_iac.cli", "probe", str(spec_path), "--local", "--out", str(out),
         "--repeats", "5", "--bytes", "200000"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
    )  # fmt: skip
    print(done.stderr)
    assert done.returncode == 0, done.stderr
    assert "estimate: links: 30 transfers in 10 rounds" in done.stderr  # 6 nodes: 2(n-1) rounds
    measured = load_measured(out, spec_path)
    spec = load_spec(spec_path)

    for a in SHARES:
        for b in SHARES:
            if a == b:
                continue
            found = measured.link(a, b)
            configured = spec.cluster.bandwidth(a, b)  # a link listed one way holds both ways
            if configured > 0:
                assert found is not None, (a, b)
                print(f"{a}->{b}: {found.bits_per_s / 1e6:.3f} of {configured / 1e6:g} Mbit/s")
                assert found.bits_per_s == pytest.approx(configured, rel=0.10), (a, b, found)
            else:
                assert found is None, (a, b)
                assert any((u.source, u.target) == (a, b) for u in measured.unreachable), (a, b)

    best = {s.node: s.max_flops_per_s for s in measured.speeds}
    assert set(best) == set(SHARES)
    for name, value in best.items():
        wanted = spec.cluster.node(name).flops_per_s
        median = measured.speed(name).flops_per_s  # type: ignore[union-attr]
        print(f"{name}: best {value / 1e9:.2f} GFLOP/s of {wanted / 1e9:.2f} (median {median / 1e9:.2f})")
        assert value == pytest.approx(wanted, rel=0.20), (name, value, wanted)
    assert sorted(best, key=best.__getitem__) == sorted(SHARES, key=SHARES.__getitem__)
    assert _leftovers("probe-e2e") == []


def _seifer_probe(spec_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "seifer_iac.cli", "probe", str(spec_path), "--local", *args]


def _processes_on(subnet: str) -> list[str]:
    """Command lines of live processes that name an address of the probe's emulated subnet."""
    prefix = subnet.rsplit(".", 1)[0] + "."
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "runtime.probe" in text and prefix in text:
                found.append(text)
    return found


def _subnet(spec_path: Path) -> str:
    spec = load_spec(spec_path)
    return str(netns.EmulatorConfig.from_cluster(probe_name(spec.name), spec.cluster).subnet.network_address)


@pytest.mark.netns
@pytest.mark.slow
def test_pairs_measures_only_those_pairs_and_reports_no_other(
    root_only: None, tmp_path: Path, tiny_model_path: Path
) -> None:
    (tmp_path / "tiny.keras").write_bytes(tiny_model_path.read_bytes())
    spec_path = write_spec(tmp_path / "probe.pipeline.yaml", dict.fromkeys(SHARES, 1e9))
    out = tmp_path / "m.yaml"
    done = subprocess.run(
        _seifer_probe(spec_path, "--out", str(out), "--no-speed", "--pairs", "gw:n1,n1:gw,n3:n5",
                      "--repeats", "2", "--bytes", "100000"),
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3 transfers in 2 rounds" in done.stderr
    measured = load_measured(out, spec_path)
    assert {(lk.source, lk.target) for lk in measured.links} == {("gw", "n1"), ("n1", "gw")}
    assert [(u.source, u.target) for u in measured.unreachable] == [("n3", "n5")]
    assert measured.unmeasured_links == () and measured.speeds == ()
    assert _leftovers("probe-e2e") == []


@pytest.mark.netns
@pytest.mark.cgroups
@pytest.mark.slow
def test_sigterm_while_probing_leaves_no_namespace_cgroup_or_process(
    root_only: None, tmp_path: Path, tiny_model_path: Path
) -> None:
    (tmp_path / "tiny.keras").write_bytes(tiny_model_path.read_bytes())
    spec_path = write_spec(tmp_path / "probe.pipeline.yaml", dict.fromkeys(SHARES, 1e9))
    out = tmp_path / "m.yaml"
    env = {**os.environ, "SEIFER_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        _seifer_probe(spec_path, "--out", str(out), "--bytes", "3000000"),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    seen: list[str] = []
    try:
        for line in proc.stderr:  # type: ignore[union-attr]
            seen.append(line)
            if line.startswith("[#"):  # the first transfer is done: receivers and cgroups are up
                break
        assert _processes_on(_subnet(spec_path)), "".join(seen)  # the next round is running
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, "".join(seen)
    assert not out.exists()
    assert _leftovers("probe-e2e") == []
    assert _processes_on(_subnet(spec_path)) == []
