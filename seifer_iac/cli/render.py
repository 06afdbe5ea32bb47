"""`seifer render SPEC -o DIR`: the manifests `pulumi up` would create, as YAML files for `kubectl apply`.

One file per object, named `NNN-<kind>-<name>.yaml` with NNN the object's position in `render_manifests`
order, so `kubectl apply --server-side -f DIR` (which reads files in name order) creates the Namespace and
ConfigMaps before the Deployments that mount them. Render writes only into a new or empty folder, or one it
wrote before (recorded in a marker file, `.seifer-render.json`); it replaces and removes only the files that
marker lists, so a user's own files are never deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from seifer_iac.cli.inputs import fail, fail_lines, preflight
from seifer_iac.spec.documents import DocumentError, read_json

MARKER = ".seifer-render.json"  # the files the last render wrote here: the only ones it may replace
MARKER_FORMAT = "seifer.render/v1"
RENDERED_NAME = re.compile(r"^([0-9]{3}-[a-z0-9][a-z0-9.-]*\.yaml|[a-z][a-z0-9-]*\.sh)$")  # .sh: seifer probe


class OutputFolderError(Exception):
    """The output folder holds files seifer did not write; str() says what to do."""


def file_name(position: int, manifest: dict[str, Any]) -> str:
    return f"{position:03d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def to_yaml(manifest: dict[str, Any]) -> str:
    """Block-style YAML in the manifest's key order (deterministic: its dicts are built in a fixed order)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(manifest, Dumper=dumper, sort_keys=False, default_flow_style=False, width=1 << 30)


def earlier_render(directory: Path) -> set[str]:
    """The files an earlier render wrote in `directory` (empty for a new or empty folder).

    OutputFolderError when the folder holds anything without seifer's marker, or the marker is not one:
    a user's own files are never replaced or removed."""
    if not directory.exists():
        return set()
    if not directory.is_dir():
        raise OutputFolderError(f"{directory} is not a folder; pass a new or empty folder to -o")
    entries = sorted(os.listdir(directory))
    if not entries:
        return set()
    if MARKER not in entries:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise OutputFolderError(
            f"{directory} already holds files seifer render did not write ({shown}); render into a new or "
            f"empty folder (render replaces only files it wrote, recorded in {MARKER})"
        )
    try:
        data = read_json(directory / MARKER, "a render marker", 2**20)
    except DocumentError as error:
        raise OutputFolderError(
            f"render marker {error}; delete the folder's contents or pick another"
        ) from None
    files = data.get("files") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("format") != MARKER_FORMAT
        or not isinstance(files, list)
        or not all(isinstance(f, str) and RENDERED_NAME.match(f) for f in files)
    ):
        raise OutputFolderError(
            f"{directory / MARKER}: files: not a list of rendered file names; delete the folder's contents "
            "or pick another folder"
        )
    return set(files)


def _write_marker(directory: Path, names: set[str]) -> None:
    text = json.dumps({"format": MARKER_FORMAT, "files": sorted(names)}, indent=1) + "\n"
    temporary = directory / f"{MARKER}.{os.getpid()}.tmp"
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(directory / MARKER)


def write_manifests(manifests: Sequence[dict[str, Any]], directory: Path) -> list[Path]:
    """Write one file per manifest into a new, empty or earlier-rendered folder (write_files)."""
    return write_files(
        [(file_name(position, manifest), to_yaml(manifest)) for position, manifest in enumerate(manifests)],
        directory,
    )


def write_files(files: Sequence[tuple[str, str]], directory: Path) -> list[Path]:
    """Write (name, text) files into a new, empty or earlier-rendered folder, then remove the files of
    the earlier render that this one no longer has (content-addressed names change, and a stale
    ConfigMap file must not be applied again). Nothing else in the folder is touched; a `.sh` file is
    made executable."""
    previous = earlier_render(directory)
    names = [name for name, _ in files]
    clashes = sorted(n for n in names if n not in previous and (directory / n).exists())
    if clashes:
        raise OutputFolderError(
            f"{directory / clashes[0]} exists and seifer render did not write it; move it away or render "
            "into another folder"
        )
    directory.mkdir(parents=True, exist_ok=True)
    _write_marker(directory, previous | set(names))  # a render cut short still knows what it wrote
    paths = []
    for name, text in files:
        path = directory / name
        path.write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(0o755)
        paths.append(path)
    for stale in sorted(previous - set(names)):
        with contextlib.suppress(FileNotFoundError):
            (directory / stale).unlink()
    _write_marker(directory, set(names))
    return paths


def summary_lines(release: Any, directory: Path, seconds: float) -> list[str]:
    from seifer_iac.release import placement_rows

    plan = release.plan
    kinds: dict[str, int] = {}
    for manifest in release.manifests:
        kinds[manifest["kind"]] = kinds.get(manifest["kind"], 0) + 1
    chunks = [c for a in release.artifacts for c in a.chunks]
    weights_mib = sum(c.size for c in chunks) / 2**20
    largest_kib = max(c.size for c in chunks) / 1024
    lines = [
        f"{release.spec.name}: {len(release.manifests)} objects written to {directory} in {seconds:.1f} s "
        f"({', '.join(f'{n} {k}' for k, n in kinds.items())})",
        f"weights: {len(chunks)} chunk ConfigMaps, {weights_mib:.1f} MiB, largest {largest_kib:.0f} KiB",
        f"plan {plan.plan_hash}: bottleneck {plan.bottleneck} ({plan.bottleneck_s * 1000:.1f} ms), "
        f"predicted {plan.throughput_per_s:.2f} inferences/s",
    ]
    for row in placement_rows(plan):
        backups = ", ".join(row["backups"]) or "none"
        lines.append(
            f"  stage {row['stage']}: {row['node']:<12} blocks {row['blocks']:<8} "
            f"{row['memoryMiB']:>8.1f} MiB  backups: {backups}"
        )
    return lines


@click.command("render")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=True, path_type=str))
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the YAML files: a new or empty one, or one seifer render wrote before (its files "
    "are replaced; nothing else is touched).",
)
def command(spec_path: str, output: Path) -> None:
    """Write the Kubernetes manifests of a spec as YAML files, one per object.

    The same objects `pulumi up` creates (both call the same renderer): weight ConfigMaps, config
    ConfigMaps, Services, NetworkPolicies and Deployments. Apply them with
    `kubectl apply --server-side -f DIR` (client-side apply copies each object into a 256 KiB annotation,
    which a weight chunk exceeds). DIR must be new, empty, or a folder seifer render wrote before: only
    the files it wrote (listed in DIR/.seifer-render.json) are ever replaced or removed.

    \b
    Example:
      seifer render stacks/dev.pipeline.yaml -o build/dev
    """
    from seifer_iac.release import RELEASE_ERRORS, build_release

    started = time.perf_counter()
    say = lambda message: click.echo(message, err=True)  # noqa: E731
    spec, _ = preflight(spec_path, progress=say)
    try:
        earlier_render(output)  # refuse a folder of the user's own files before the slow part
        release = build_release(spec, progress=say)
    except OutputFolderError as error:
        fail(str(error))
    except RELEASE_ERRORS as error:
        fail_lines(str(error).splitlines())
    except OSError as error:
        fail(f"{error.strerror or error}: {error.filename or spec_path}")
    from seifer_iac.keyfile import KeyFileError, with_key_secret

    try:
        manifests, keys = with_key_secret(release.spec, spec_path, list(release.manifests))
        write_manifests(manifests, output)
    except (OutputFolderError, KeyFileError) as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write to {output}: {error.strerror or error}: {error.filename or output}")
    if keys is not None:
        state = "created" if keys.created else "reused"
        click.echo(
            f"CURVE keys {state}: {keys.path}; never commit it, nor the Secret file it wrote to {output}"
        )
    for line in summary_lines(release, output, time.perf_counter() - started):
        click.echo(line)
