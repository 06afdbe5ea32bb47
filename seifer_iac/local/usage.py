"""What each emulated node spends: CPU seconds (from /proc/<pid>/stat) and bytes sent (from tc counters).

These are the proxy for the research's per-node energy figure: a node's energy is roughly its CPU time plus
its radio time, and radio time is bytes sent over its link rate. Parsers are pure (text in, numbers out);
the readers around them are one system call or one `tc` run each.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

_SENT = re.compile(r"^\s*Sent (\d+) bytes (\d+) pkt")
_CLASS = re.compile(r"^class htb (\S+) ")


def cpu_ticks_from_stat(text: str) -> int:
    """utime + stime (clock ticks) of one /proc/<pid>/stat line.

    The command name (field 2) is in parentheses and may hold spaces or ')', so fields are counted after the
    LAST ')': state is then field 0, utime field 11 and stime field 12 (fields 14 and 15 of proc(5)).
    """
    rest = text[text.rindex(")") + 1 :].split()
    return int(rest[11]) + int(rest[12])


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) a live process has used; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    return cpu_ticks_from_stat(text) / os.sysconf("SC_CLK_TCK")


def htb_sent_bytes(text: str) -> dict[str, int]:
    """classid -> bytes sent, from `tc -s class show dev IF` output (HTB classes only)."""
    sent: dict[str, int] = {}
    current = None
    for line in text.splitlines():
        found = _CLASS.match(line)
        if found:
            current = found.group(1)
            continue
        counted = _SENT.match(line)
        if counted and current is not None:
            sent[current] = int(counted.group(1))
            current = None
    return sent


def read_htb_sent(netns: str, device: str = "eth0") -> dict[str, int]:
    """The counters of one namespace's shaping classes ({} when the namespace or qdisc is gone)."""
    done = subprocess.run(
        ["tc", "-n", netns, "-s", "class", "show", "dev", device], capture_output=True, text=True, check=False
    )
    return htb_sent_bytes(done.stdout) if done.returncode == 0 else {}


@dataclass(frozen=True)
class Sample:
    """One snapshot: CPU seconds per process name and bytes sent per node (sum over its classes)."""

    cpu_s: Mapping[str, float]
    sent_bytes: Mapping[str, int]


def delta(before: Sample, after: Sample) -> Sample:
    """What was spent between two samples (processes or nodes missing from either side are left out)."""
    cpu = {k: after.cpu_s[k] - before.cpu_s[k] for k in after.cpu_s if k in before.cpu_s}
    sent = {k: after.sent_bytes[k] - before.sent_bytes[k] for k in after.sent_bytes if k in before.sent_bytes}
    return Sample(cpu, sent)
