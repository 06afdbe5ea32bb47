"""The cluster network emulator: one network namespace per node, rate limits per directed pair of nodes.

Topology. A dedicated "switch" namespace holds one Linux bridge; every node namespace gets one veth whose
inner end is `eth0` with the node's address, and whose outer end is a bridge port. A bridge (rather than a
veth pair per node pair) keeps ONE address per node, which is what the address scheme needs (a Service
name maps to one IP), and needs N veths instead of N(N-1)/2.

Exactness. Each node shapes its own egress: an HTB qdisc on its `eth0` with one class per destination
(rate = ceil = the spec's bandwidth, so no class ever borrows) and a u32 filter by destination IP. A
directed pair (a, b) therefore has its own token bucket that no other pair shares, so every directed rate is
exact and asymmetric links work. TCP's ACKs travel the reverse pair's class; they are small and rarely
matter. A pair with no link (bandwidth 0) gets an `unreachable` route, so a connect fails at once instead of
hanging. HTB counts whole frames (Ethernet + IP + TCP headers), so a bulk TCP transfer delivers about 95 %
of the configured rate as payload, as a real link of that rate would.

Shared medium (`cluster.bandwidth.medium: shared`, one Wi-Fi channel). On top of the pairs' own classes,
every node-to-node packet also crosses ONE HTB class: the switch namespace redirects what each node port
receives (by destination node) to one IFB device, `air`, whose single class is the channel. What the
channel must count is airtime, not bytes: a transfer at rate r occupies it for bytes / r, so a slow pair's
byte costs more air than a fast pair's. HTB charges every packet of a class against one rate, so the
emulator makes each packet's airtime the same instead: the air class charges every packet a whole slot
(`mpu` = the slot's bytes, at the fastest pair's rate) and each pair's packets are sized in proportion to
its rate (a per-destination route MTU on the source node, the receiver advertising no smaller MSS, and
GSO off so TCP hands the qdiscs one segment per packet). A pair at rate r then moves r bits per second of
air whether it is alone or shares the channel, and transfers running together add up their airtimes, as
the planner's shared term does. Pure ACKs (IP packets under 128 bytes) take no air, and a pair's packets
are exactly proportional down to rate ratios of SLOT_BYTES / FRAME_FLOOR (about 15); a slower pair keeps
the smallest frame and is charged too little air (`AirPlan.exact` says which holds).

Optionally a veth joins the ROOT namespace to the bridge (host access), so the runner on the host can poll
health URLs and a user can reach the dispatcher; traffic to or from the host is not shaped (the host is not
a node of the spec). Only the addresses of the namespaces made here are ever configured or targeted.

Commands are built by pure functions (argv lists) and run by a thin executor, so the plan is unit-tested
without root. Everything made here lives in namespaces named by one deterministic prefix, so cleanup (on
exit, on exception, on SIGTERM/SIGINT, or after a crash via `cleanup_stale`) is "delete every namespace with
the prefix".
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from seifer_iac.local.procs import alive
from seifer_iac.local.signals import SignalScoped, shielded, terminate_as_exception
from seifer_iac.spec.model import Cluster

Argv = list[str]
MAX_NODES = 250
NODE_IF = "eth0"
BRIDGE = "br0"
HOST_PEER = "host"
HOST_OCTET = 254
MEDIA = ("switched", "shared")
AIR_IF = "air"  # the shared medium's IFB device in the switch namespace
SLOT_BYTES = 9014  # one slot of air: a 9000-byte-MTU frame at the fastest pair's rate
FRAME_MIN = 1514  # the fastest and slowest pairs' frames are never below a standard Ethernet frame ...
FRAME_FLOOR = 590  # ... unless the rates differ more than SLOT_BYTES / FRAME_MIN; never below 576 + 14
ETH_HEADER = 14
ACK_BELOW = 128  # IP packets shorter than this (pure TCP ACKs) take no air


class EmulatorError(RuntimeError):
    """A command of the emulator failed; the message names the command and the kernel's complaint."""


@dataclass(frozen=True)
class PairLimit:
    """The emulated rate of one directed pair: 0 means no link (unreachable)."""

    source: str
    target: str
    bits_per_s: float


@dataclass(frozen=True)
class EmulatorConfig:
    """What to build: node names in a stable order, the directed rates, and whether the host joins."""

    pipeline: str
    nodes: tuple[str, ...]
    limits: tuple[PairLimit, ...]
    host_access: bool = True
    medium: str = "switched"  # "shared": one channel's airtime for all of the nodes' traffic

    def __post_init__(self) -> None:
        if self.medium not in MEDIA:
            raise ValueError(f"medium must be one of {MEDIA}, not {self.medium!r}")
        if not self.nodes:
            raise ValueError("the emulator needs at least one node")
        if len(self.nodes) > MAX_NODES:
            raise ValueError(f"the emulator supports at most {MAX_NODES} nodes, got {len(self.nodes)}")
        if len(set(self.nodes)) != len(self.nodes):
            raise ValueError("node names must be unique")

    @classmethod
    def from_cluster(
        cls, pipeline: str, cluster: Cluster, *, host_access: bool = True, rate_scale: float = 1.0
    ) -> EmulatorConfig:
        """Every directed pair of distinct nodes, with `cluster.bandwidth(a, b)` as its rate (times
        `rate_scale`: 1/k under time dilation)."""
        names = cluster.node_names
        limits = tuple(
            PairLimit(a, b, cluster.bandwidth(a, b) * rate_scale) for a in names for b in names if a != b
        )
        return cls(
            pipeline=pipeline, nodes=names, limits=limits, host_access=host_access, medium=cluster.medium
        )

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.pipeline.encode()).hexdigest()[:6]

    @property
    def prefix(self) -> str:
        """Every namespace of this pipeline starts with it (readable slug + hash of the full name)."""
        return name_prefix(self.pipeline)

    @property
    def switch_netns(self) -> str:
        return self.prefix + "sw"

    @property
    def host_link(self) -> str:
        """The root-namespace end of the host veth (at most 15 characters, unique per pipeline)."""
        return host_link_name(self.pipeline)

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        """A /24 inside 10.213.0.0/16 chosen by the pipeline's hash, so concurrent pipelines rarely clash."""
        return ipaddress.IPv4Network(f"10.213.{int(self.digest, 16) % 256}.0/24")

    def index_of(self, node: str) -> int:
        try:
            return self.nodes.index(node)
        except ValueError:
            raise KeyError(
                f"no node {node!r} in the emulated cluster (nodes: {', '.join(self.nodes)})"
            ) from None

    def netns_of(self, node: str) -> str:
        return f"{self.prefix}{self.index_of(node)}"

    def address_of(self, node: str) -> str:
        return str(self.subnet.network_address + 1 + self.index_of(node))

    @property
    def host_address(self) -> str:
        return str(self.subnet.network_address + HOST_OCTET)


@dataclass(frozen=True)
class AirPlan:
    """The shared medium as built: the channel's rate (the fastest pair's), the slot every packet is charged
    (bytes, Ethernet header included) and each directed pair's frame, in proportion to its rate."""

    bits_per_s: float
    slot_bytes: int
    frames: tuple[tuple[str, str, int], ...]  # (source, target, frame bytes)
    exact: bool  # every frame is in proportion to its pair's rate (none held at FRAME_FLOOR)

    def frame(self, source: str, target: str) -> int | None:
        return next((f for s, t, f in self.frames if (s, t) == (source, target)), None)


def air_plan(config: EmulatorConfig) -> AirPlan | None:
    """The shared medium's slot and frame sizes (None on a switched medium or without a shaped pair).

    A pair at rate r sends frames of slot x r / fastest bytes; the channel charges each frame one slot at the
    fastest rate, i.e. slot / fastest = frame / r seconds: the frame's own time at its pair's rate. The slot
    grows with the spread of rates (so the slowest pair keeps standard frames) up to SLOT_BYTES.
    """
    shaped = [lk for lk in config.limits if 0 < lk.bits_per_s < math.inf]
    if config.medium != "shared" or not shaped:
        return None
    fastest = max(lk.bits_per_s for lk in shaped)
    slowest = min(lk.bits_per_s for lk in shaped)
    slot = min(SLOT_BYTES, max(FRAME_MIN, math.ceil(FRAME_MIN * fastest / slowest)))
    frames, exact = [], True
    for lk in sorted(shaped, key=lambda lk: (config.index_of(lk.source), config.index_of(lk.target))):
        frame = round(slot * lk.bits_per_s / fastest)
        if frame < FRAME_FLOOR:
            frame, exact = FRAME_FLOOR, False
        frames.append((lk.source, lk.target, frame))
    return AirPlan(fastest, slot, tuple(frames), exact)


def _slug(pipeline: str) -> str:
    return re.sub(r"[^a-z0-9]", "", pipeline.lower())[:8] or "p"


def name_prefix(pipeline: str) -> str:
    """`sf-<slug>-<hash6>-`: short, readable, unique per pipeline name, the same on every run."""
    digest = hashlib.sha256(pipeline.encode()).hexdigest()[:6]
    return f"sf-{_slug(pipeline)}-{digest}-"


def host_link_name(pipeline: str) -> str:
    return f"sf{hashlib.sha256(pipeline.encode()).hexdigest()[:6]}h"


def _rate_arg(bits_per_s: float) -> str:
    return f"{max(8, round(bits_per_s))}bit"


def _quantum(bits_per_s: float) -> int:
    """HTB's quantum matters only when classes borrow (ours never do); keep it where tc stays quiet."""
    return int(min(200_000, max(1_600, bits_per_s / 8 / 10)))


def _ip(ns: str | None, *args: str) -> Argv:
    """`ip` inside namespace `ns` (None: the root namespace)."""
    return ["ip", *(["-n", ns] if ns else []), *args]


def _tc(ns: str, *args: str) -> Argv:
    return ["tc", "-n", ns, *args]


def plan_network(config: EmulatorConfig) -> list[Argv]:
    """Namespaces, bridge, veths, addresses, lo up; and the host veth when asked for."""
    sw = config.switch_netns
    plen = config.subnet.prefixlen
    cmds: list[Argv] = [
        ["ip", "netns", "add", sw],
        _ip(sw, "link", "set", "lo", "up"),
        _ip(sw, "link", "add", "name", BRIDGE, "type", "bridge"),
        _ip(sw, "link", "set", BRIDGE, "up"),
    ]
    for i, node in enumerate(config.nodes):
        ns = config.netns_of(node)
        port = f"n{i}"
        cmds += [
            ["ip", "netns", "add", ns],
            _ip(ns, "link", "set", "lo", "up"),
            _ip(sw, "link", "add", "name", port, "type", "veth", "peer", "name", NODE_IF, "netns", ns),
            _ip(sw, "link", "set", port, "master", BRIDGE),
            _ip(sw, "link", "set", port, "up"),
            _ip(ns, "addr", "add", f"{config.address_of(node)}/{plen}", "dev", NODE_IF),
            _ip(ns, "link", "set", NODE_IF, "up"),
        ]
    if config.host_access:
        link = config.host_link
        cmds += [
            _ip(None, "link", "add", "name", link, "type", "veth", "peer", "name", HOST_PEER, "netns", sw),
            _ip(sw, "link", "set", HOST_PEER, "master", BRIDGE),
            _ip(sw, "link", "set", HOST_PEER, "up"),
            _ip(None, "addr", "add", f"{config.host_address}/{plen}", "dev", link),
            _ip(None, "link", "set", link, "up"),
        ]
    if air_plan(config) is not None:
        cmds += _plan_jumbo(config)
    return cmds


def _plan_jumbo(config: EmulatorConfig) -> list[Argv]:
    """Shared medium: every veth carries a whole slot; TCP hands the qdiscs one segment per packet."""
    sw, mtu = config.switch_netns, str(SLOT_BYTES - ETH_HEADER)
    cmds: list[Argv] = []
    for i, node in enumerate(config.nodes):
        ns = config.netns_of(node)
        cmds += [
            _ip(sw, "link", "set", f"n{i}", "mtu", mtu),
            _ip(ns, "link", "set", NODE_IF, "mtu", mtu, "gso_max_segs", "1"),
        ]
    if config.host_access:
        cmds += [
            _ip(sw, "link", "set", HOST_PEER, "mtu", mtu),
            _ip(None, "link", "set", config.host_link, "mtu", mtu),
        ]
    return cmds


def plan_shaping(config: EmulatorConfig) -> list[Argv]:
    """Per source node: HTB root, then per destination a class (rate = ceil), a FIFO leaf and a u32 filter.

    Class ids are `1:<10 + destination index>` in hex, as tc reads them. No `default` class, so anything
    unmatched (ARP, traffic to the host) leaves unshaped. A zero rate becomes an `unreachable` route.
    """
    cmds: list[Argv] = []
    by_source: dict[str, list[PairLimit]] = {}
    for limit in config.limits:
        by_source.setdefault(limit.source, []).append(limit)
    for source in config.nodes:
        limits = sorted(by_source.get(source, []), key=lambda lk: config.index_of(lk.target))
        ns = config.netns_of(source)
        if any(0 < lk.bits_per_s < math.inf for lk in limits):
            cmds.append(_tc(ns, "qdisc", "add", "dev", NODE_IF, "root", "handle", "1:", "htb"))
        for limit in limits:
            target_ip = config.address_of(limit.target)
            if limit.bits_per_s <= 0:
                cmds.append(_ip(ns, "route", "add", "unreachable", f"{target_ip}/32"))
                continue
            if limit.bits_per_s == math.inf:
                continue
            cls = f"1:{10 + config.index_of(limit.target):x}"
            rate = _rate_arg(limit.bits_per_s)
            quantum = str(_quantum(limit.bits_per_s))
            on_dev = ("dev", NODE_IF, "parent")
            cmds += [
                _tc(ns, "class", "add", *on_dev, "1:", "classid", cls, "htb", "rate", rate, "ceil", rate,
                    "quantum", quantum),
                _tc(ns, "qdisc", "add", *on_dev, cls, "handle", cls[2:] + ":", "pfifo", "limit", "1000"),
                _tc(ns, "filter", "add", *on_dev, "1:", "protocol", "ip", "prio", "1",
                    "u32", "match", "ip", "dst", f"{target_ip}/32", "flowid", cls),
            ]  # fmt: skip
    return cmds


def plan_air(config: EmulatorConfig) -> list[Argv]:
    """Shared medium: the channel (one IFB, one HTB class charging a slot per packet), each node port's
    packets to other nodes redirected through it (pure ACKs pass), and per destination a route whose MTU
    makes the pair's frames proportional to its rate. Nothing on a switched medium."""
    air = air_plan(config)
    if air is None:
        return []
    sw = config.switch_netns
    rate = _rate_arg(air.bits_per_s)
    cmds: list[Argv] = [
        _ip(sw, "link", "add", "name", AIR_IF, "type", "ifb"),
        _ip(sw, "link", "set", AIR_IF, "mtu", str(SLOT_BYTES - ETH_HEADER)),
        _ip(sw, "link", "set", AIR_IF, "up"),
        _tc(sw, "qdisc", "add", "dev", AIR_IF, "root", "handle", "1:", "htb", "default", "1"),
        _tc(sw, "class", "add", "dev", AIR_IF, "parent", "1:", "classid", "1:1", "htb", "rate", rate,
            "ceil", rate, "mpu", str(air.slot_bytes), "quantum", str(_quantum(air.bits_per_s))),
        _tc(sw, "qdisc", "add", "dev", AIR_IF, "parent", "1:1", "handle", "2:", "pfifo", "limit", "1000"),
    ]  # fmt: skip
    advmss = str(SLOT_BYTES - ETH_HEADER - 40)
    sources = {source for source, _, _ in air.frames}
    for source in sorted(sources, key=config.index_of):
        port = f"n{config.index_of(source)}"
        cmds += [
            _tc(sw, "qdisc", "add", "dev", port, "handle", "ffff:", "ingress"),
            _tc(sw, "filter", "add", "dev", port, "parent", "ffff:", "protocol", "ip", "prio", "1", "u32",
                "match", "u16", "0", f"{0xFFFF & ~(ACK_BELOW - 1):#x}", "at", "2", "flowid", "ffff:1"),
        ]  # fmt: skip
    for source, target, frame in air.frames:
        ns, target_ip = config.netns_of(source), f"{config.address_of(target)}/32"
        port = f"n{config.index_of(source)}"
        cmds += [
            _tc(sw, "filter", "add", "dev", port, "parent", "ffff:", "protocol", "ip", "prio", "2", "u32",
                "match", "ip", "dst", target_ip, "action", "mirred", "egress", "redirect", "dev", AIR_IF),
            _ip(ns, "route", "add", target_ip, "dev", NODE_IF, "mtu", "lock", str(frame - ETH_HEADER),
                "advmss", advmss),
        ]  # fmt: skip
    return cmds


def reframe_commands(config: EmulatorConfig, source: str, address: str, bits_per_s: float) -> list[Argv]:
    """Shared medium: the route from `source` to `address` re-sized for a pair at `bits_per_s` (a Service
    address that moved to another node, failover.py); nothing on a switched medium."""
    air = air_plan(config)
    if air is None:
        return []
    frame = max(FRAME_FLOOR, round(air.slot_bytes * bits_per_s / air.bits_per_s))
    return [
        _ip(config.netns_of(source), "route", "replace", f"{address}/32", "dev", NODE_IF, "mtu", "lock",
            str(min(air.slot_bytes, frame) - ETH_HEADER), "advmss", str(SLOT_BYTES - ETH_HEADER - 40)),
    ]  # fmt: skip


def plan_commands(config: EmulatorConfig) -> list[Argv]:
    """Everything `Emulator` runs to build the network, in order."""
    return plan_network(config) + plan_shaping(config) + plan_air(config)


def plan_teardown(pipeline: str, existing_netns: Sequence[str], existing_links: Sequence[str]) -> list[Argv]:
    """Delete this pipeline's namespaces (their veths and the bridge go with them) and the host link."""
    prefix = name_prefix(pipeline)
    cmds = [["ip", "netns", "delete", ns] for ns in sorted(existing_netns) if ns.startswith(prefix)]
    link = host_link_name(pipeline)
    if link in existing_links:
        cmds.append(["ip", "link", "delete", link])
    return cmds


Executor = Callable[[Sequence[Argv]], None]


def run_command(argv: Argv, stdin: str | None = None) -> None:
    """Run one command; raise EmulatorError with its stderr on failure."""
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shown = " ".join(argv) + (f" <<< {stdin.strip()!r}" if stdin else "")
        raise EmulatorError(f"`{shown}` failed ({done.returncode}): {done.stderr.strip()}")


def batches(cmds: Sequence[Argv]) -> list[tuple[Argv, list[Argv]]]:
    """Group consecutive `ip -n NS ...` / `tc -n NS ...` commands into one `-batch -` run each.

    A 20-node cluster needs ~1300 commands; one process per namespace and tool instead of per command
    builds it in well under a second. Returns (argv, commands it covers); the commands themselves stay plain
    argv lists, so the plan is the same whichever way it is run.
    """
    groups: list[tuple[Argv, list[Argv]]] = []
    for argv in cmds:
        key = argv[:3] if len(argv) > 3 and argv[0] in ("ip", "tc") and argv[1] == "-n" else None
        if key and groups and groups[-1][0][:3] == key and groups[-1][0][3:] == ["-batch", "-"]:
            groups[-1][1].append(argv)
        elif key:
            groups.append(([*key, "-batch", "-"], [argv]))
        else:
            groups.append((argv, [argv]))
    return groups


def run_commands(cmds: Sequence[Argv]) -> None:
    """The executor: run the plan in order, batching per namespace; stop at the first failure."""
    for argv, covered in batches(cmds):
        if argv[-2:] == ["-batch", "-"]:
            run_command(argv, stdin="".join(" ".join(c[3:]) + "\n" for c in covered))
        else:
            run_command(argv)


def list_netns() -> list[str]:
    """Names of the namespaces `ip netns` knows (first word of each line)."""
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def list_links() -> list[str]:
    """Interface names in the root namespace."""
    done = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False)
    names = []
    for line in done.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@")[0])
    return names


def _pids_in(ns: str) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    return [int(tok) for tok in done.stdout.split() if tok.isdigit()]


def _kill_pids(pids: Sequence[int], grace_s: float) -> None:
    """Processes still inside our namespaces would keep them (and their veths) alive: TERM, then KILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        signalled = []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
                signalled.append(pid)
        if not signalled or sig == signal.SIGKILL:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(alive(pid) for pid in signalled):
            time.sleep(0.05)
        pids = [pid for pid in signalled if alive(pid)]


def cleanup_stale(pipeline: str, *, kill_processes: bool = True, grace_s: float = 2.0) -> list[str]:
    """Remove what a previous (possibly crashed) run of this pipeline left: namespaces by prefix, host link.

    Processes still running inside those namespaces are ended first (they are ours: only this emulator
    starts anything there), since a namespace with a live process outlives `ip netns delete`.
    Returns the names removed. Best effort: it never raises for something already gone.
    """
    prefix = name_prefix(pipeline)
    namespaces = [ns for ns in list_netns() if ns.startswith(prefix)]
    if kill_processes:
        pids = sorted({pid for ns in namespaces for pid in _pids_in(ns) if pid != os.getpid()})
        if pids:
            _kill_pids(pids, grace_s)
    removed = []
    for argv in plan_teardown(pipeline, namespaces, list_links()):
        try:
            run_command(argv)
            removed.append(argv[-1])
        except EmulatorError:
            pass
    return removed


def available(medium: str = "switched") -> tuple[bool, str]:
    """Whether namespaces, veths, bridges and HTB work here (and for a shared medium IFB devices, ingress
    redirects and jumbo veths); if not, why (so callers can skip cleanly)."""
    if os.geteuid() != 0:
        return False, "network emulation needs root (ip netns add), and this process is not root"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return False, f"`{tool}` (iproute2) is not on PATH"
    probe = f"sf-probe-{os.getpid()}"
    trial = [
        ["ip", "netns", "add", probe],
        _ip(probe, "link", "add", "name", "br0", "type", "bridge"),
        _ip(probe, "link", "add", "name", "pa", "type", "veth", "peer", "name", "pb"),
        _tc(probe, "qdisc", "add", "dev", "pa", "root", "handle", "1:", "htb"),
        _tc(probe, "class", "add", "dev", "pa", "parent", "1:", "classid", "1:10", "htb", "rate", "1mbit"),
        _tc(probe, "filter", "add", "dev", "pa", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
            "match", "ip", "dst", "10.213.255.1/32", "flowid", "1:10"),
    ]  # fmt: skip
    if medium == "shared":
        trial += [
            _ip(probe, "link", "add", "name", AIR_IF, "type", "ifb"),
            _ip(probe, "link", "set", "pb", "mtu", str(SLOT_BYTES - ETH_HEADER), "gso_max_segs", "1"),
            _tc(probe, "qdisc", "add", "dev", "pb", "handle", "ffff:", "ingress"),
            _tc(probe, "filter", "add", "dev", "pb", "parent", "ffff:", "protocol", "ip", "prio", "2", "u32",
                "match", "ip", "dst", "10.213.255.1/32", "action", "mirred", "egress", "redirect", "dev",
                AIR_IF),
        ]  # fmt: skip
    try:
        for argv in trial:
            run_command(argv)
    except (EmulatorError, OSError) as err:
        return False, f"cannot build an emulated network here: {err}"
    finally:
        subprocess.run(["ip", "netns", "delete", probe], capture_output=True, check=False)
    return True, "ok"


class Emulator(SignalScoped):
    """The emulated network of one pipeline, alive inside a `with` block and gone after it, whatever happens.

    Entering removes leftovers of a crashed run of the same pipeline, then builds; a failure while building
    removes what was built. SIGTERM/SIGINT inside the block raise `Terminated`, so exit still runs.
    """

    def __init__(self, config: EmulatorConfig, executor: Executor = run_commands) -> None:
        self.config = config
        self._execute = executor
        self._signals = terminate_as_exception()
        self._up = False

    def start(self) -> None:
        """Build the network (idempotent per pipeline: stale leftovers are removed first)."""
        cleanup_stale(self.config.pipeline)
        if self.config.host_access:
            self._check_subnet_free()
        self._up = True
        try:
            self._execute(plan_commands(self.config))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Remove everything (namespaces, bridge, veths, host link); safe to call twice."""
        if not self._up:
            return
        with shielded():
            cleanup_stale(self.config.pipeline)
        self._up = False

    def _check_subnet_free(self) -> None:
        subnet = str(self.config.subnet)
        done = subprocess.run(
            ["ip", "-4", "route", "show", subnet], capture_output=True, text=True, check=False
        )
        if done.stdout.strip():
            raise EmulatorError(
                f"the host already routes {subnet} ({done.stdout.strip()}): another emulated pipeline"
                f" with the same subnet is running; stop it or rename this pipeline"
            )

    def address_of(self, node: str) -> str:
        """The node's IPv4 address inside the emulated network (what a Service name maps to)."""
        return self.config.address_of(node)

    def netns_of(self, node: str) -> str:
        return self.config.netns_of(node)

    def exec_prefix(self, node: str) -> list[str]:
        """Prepend to an argv to run it inside the node's namespace."""
        return ["ip", "netns", "exec", self.config.netns_of(node)]

    @property
    def host_address(self) -> str | None:
        """The host's address on the emulated bridge, or None without host access."""
        return self.config.host_address if self.config.host_access else None
