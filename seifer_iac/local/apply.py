"""A changed spec applied to a running local pipeline, as `kubectl apply` / `pulumi up` would on a cluster.

`seifer up --local SPEC` on a pipeline that already runs does not start a second one: it renders the new
release and hands its manifests to the running `seifer up --local` (the process that owns the supervisor,
the emulated network, the cgroups and the run's CURVE keys), through two files in the run directory:

- `apply/request-<id>.json`: the new manifests (written atomically by the new invocation);
- `apply/answer-<id>.json`: what the running one did (written when the replaced pods are ready, or failed).

The running one then does what a Deployment controller and the kubelets do: a Deployment whose pod template
changed gets its pod replaced with the Recreate strategy (old process stopped with SIGTERM and a grace
period, then the new one started), all such Deployments at once; every other process keeps running. A
version bump therefore replaces every stage and leaves the dispatcher alone (its template has no version).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APPLY_DIR = "apply"
POLL_S = 0.2


@dataclass(frozen=True)
class Changes:
    """Deployments by name: those whose pod template changed, and those only one side has."""

    replaced: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]


def _templates(manifests: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {
        m["metadata"]["name"]: json.dumps(m["spec"]["template"], sort_keys=True)
        for m in manifests
        if m.get("kind") == "Deployment"
    }


def deployment_changes(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> Changes:
    """What a Deployment controller would roll: a pod template that differs in anything."""
    before, after = _templates(old), _templates(new)
    return Changes(
        replaced=tuple(sorted(n for n in set(before) & set(after) if before[n] != after[n])),
        added=tuple(sorted(set(after) - set(before))),
        removed=tuple(sorted(set(before) - set(after))),
    )


class ApplyError(RuntimeError):
    """The running pipeline did not answer, or could not apply the change (the message says why)."""


def _write_atomically(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document))
    os.replace(tmp, path)


def request_apply(
    run_dir: Path, manifests: Sequence[Mapping[str, Any]], timeout_s: float, alive: Any = None
) -> dict[str, Any]:
    """Hand `manifests` to the running pipeline and wait for its answer ({"ok", "message", "replaced"}).

    `alive()` (optional) says whether the running pipeline still runs: a run that ends meanwhile fails at
    once instead of after the timeout.
    """
    ident = uuid.uuid4().hex[:12]
    folder = run_dir / APPLY_DIR
    answer = folder / f"answer-{ident}.json"
    _write_atomically(folder / f"request-{ident}.json", {"id": ident, "manifests": list(manifests)})
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if answer.exists():
                return json.loads(answer.read_text())
            if alive is not None and not alive():
                raise ApplyError(f"the running pipeline of {run_dir} stopped before it applied the change")
            time.sleep(POLL_S)
        raise ApplyError(f"the running pipeline of {run_dir} did not apply the change in {timeout_s:.0f} s")
    finally:
        (folder / f"request-{ident}.json").unlink(missing_ok=True)
        answer.unlink(missing_ok=True)


def take_request(run_dir: Path) -> tuple[str, list[dict[str, Any]]] | None:
    """The oldest pending request (id, manifests), removed from the folder; None when there is none."""
    folder = run_dir / APPLY_DIR
    requests = (
        sorted(folder.glob("request-*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    )
    for path in requests:
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # half written by a dead invocation, or just taken
        path.unlink(missing_ok=True)
        return str(document["id"]), list(document["manifests"])
    return None


def answer_request(run_dir: Path, ident: str, ok: bool, message: str, replaced: Sequence[str] = ()) -> None:
    _write_atomically(
        run_dir / APPLY_DIR / f"answer-{ident}.json",
        {"ok": ok, "message": message, "replaced": list(replaced)},
    )
