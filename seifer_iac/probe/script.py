"""The rendered probe as files, and the exact kubectl sequence that runs it (`probe.sh`).

Rounds must run one after the other (a node in two transfers at once measures neither), which
`kubectl apply -f DIR` cannot express: so each phase is its own file, applied in order by a short POSIX
shell script that waits for each phase to finish. The script is the documentation of the sequence too
(docs/deployment.md repeats it), and plain enough to run by hand line by line.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

import yaml

from seifer_iac.probe.jobs import PROBE_LABEL, ROUND_LABEL, ProbeManifests

SCRIPT_NAME = "probe.sh"
FIELD_MANAGER = "seifer-probe"
WAIT_SLACK_S = 60


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes a dict shared by two places twice, never as a YAML alias (`&id001`) a reader must follow."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(objects: Sequence[dict[str, Any]]) -> str:
    """Several objects as one multi-document YAML stream, each in its own key order."""
    return "".join(
        "---\n" + yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 30)
        for obj in objects
    )


def file_names(probe: ProbeManifests) -> tuple[str, list[str], str | None]:
    """(setup file, round files, speed file or None), named so they sort in the order they run."""
    rounds = [f"{n:03d}-round-{n}.yaml" for n in range(1, len(probe.rounds) + 1)]
    speed = f"{len(probe.rounds) + 1:03d}-speed.yaml" if probe.speed else None
    return "000-setup.yaml", rounds, speed


def files(probe: ProbeManifests, spec_path: str) -> list[tuple[str, str]]:
    """Every file of the rendered probe: (name, text), in the order they run, the script last."""
    setup, rounds, speed = file_names(probe)
    out = [(setup, to_yaml(probe.setup))]
    out += [(name, to_yaml(jobs)) for name, jobs in zip(rounds, probe.rounds, strict=True)]
    if speed is not None:
        out.append((speed, to_yaml(probe.speed)))
    out.append((SCRIPT_NAME, script(probe, spec_path)))
    return out


def script(probe: ProbeManifests, spec_path: str) -> str:
    """probe.sh: apply setup, wait for the receivers, each round then wait, the speed Jobs then wait,
    save every probe Job's log, and say how to collect and clean up."""
    setup, rounds, speed = file_names(probe)
    ns = shlex.quote(probe.namespace)
    wait_link = probe.link_deadline_s + WAIT_SLACK_S
    lines = [
        "#!/bin/sh",
        "# Measure the cluster's links and node speeds: rendered by `seifer probe SPEC --render DIR`.",
        "# Usage: sh DIR/probe.sh [LOGS_DIR]   (kubectl must reach the cluster; LOGS_DIR: DIR/logs)",
        "set -eu",
        'here=$(cd "$(dirname "$0")" && pwd)',
        'logs=${1:-"$here/logs"}',
        f"ns={ns}",
        f'apply() {{ kubectl apply --server-side --field-manager={FIELD_MANAGER} -f "$here/$1"; }}',
        "",
        "echo 'setup: policies, receivers and the ConfigMaps of the speed probe' >&2",
        f"apply {setup}",
    ]
    if probe.receivers:
        lines += [
            "# receivers first: they pull the image on every node before any transfer runs",
            "tries=0",
            f'until [ "$(kubectl -n "$ns" get pods -l {PROBE_LABEL}=receiver -o name | wc -l)" -ge'
            f" {probe.receivers} ]; do",
            '  tries=$((tries + 1)); [ "$tries" -le 300 ] || { echo "receivers not created" >&2; exit 1; }',
            "  sleep 1",
            "done",
            f'kubectl -n "$ns" wait --for=condition=Ready pod -l {PROBE_LABEL}=receiver --timeout=600s '
            "|| echo 'a receiver is not ready: the pairs to it will show as missing' >&2",
        ]
    for number, name in enumerate(rounds, start=1):
        lines += [
            f"echo 'round {number} of {len(rounds)}' >&2",
            f"apply {name}",
            f'kubectl -n "$ns" wait --for=condition=complete job -l {ROUND_LABEL}={number} '
            f"--timeout={wait_link}s || echo 'round {number}: a transfer did not finish' >&2",
        ]
    if probe.receivers:
        lines.append(f'kubectl -n "$ns" delete job -l {PROBE_LABEL}=receiver --ignore-not-found')
    if speed is not None:
        lines += [
            "echo 'node speeds' >&2",
            f"apply {speed}",
            f'kubectl -n "$ns" wait --for=condition=complete job -l {PROBE_LABEL}=speed --timeout=960s '
            "|| echo 'a speed probe did not complete (collect names it)' >&2",
        ]
    lines += [
        'mkdir -p "$logs"',
        f"for job in $(kubectl -n \"$ns\" get jobs -l '{PROBE_LABEL} in (link,speed)' -o name); do",
        '  kubectl -n "$ns" logs "$job" --timestamps > "$logs/${job##*/}.log" || true',
        "done",
        f'echo "logs in $logs; next: seifer probe collect --from $logs {shlex.quote(spec_path)} '
        '--out cluster.measured.yaml" >&2',
        f'echo "clean up: kubectl -n $ns delete job,service,networkpolicy,configmap -l {PROBE_LABEL}" >&2',
        "",
    ]
    return "\n".join(lines)
