"""`seifer render SPEC -o DIR`: the manifests `pulumi up` would create, as YAML files for `kubectl apply`.

One file per object, named `NNN-<kind>-<name>.yaml` with NNN the object's position in `render_manifests`
order, so `kubectl apply --server-side -f DIR` (which reads files in name order) creates the Namespace and
ConfigMaps before the Deployments that mount them. Files of an earlier render (the NNN- pattern) are removed
first: content-addressed names change, and a stale ConfigMap file must not be applied again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import yaml

RENDERED_GLOB = "[0-9][0-9][0-9]-*.yaml"


def file_name(position: int, manifest: dict[str, Any]) -> str:
    return f"{position:03d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def to_yaml(manifest: dict[str, Any]) -> str:
    """Block-style YAML in the manifest's key order (deterministic: its dicts are built in a fixed order)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(manifest, Dumper=dumper, sort_keys=False, default_flow_style=False, width=1 << 30)


def write_manifests(manifests: Sequence[dict[str, Any]], directory: Path) -> list[Path]:
    """Replace the rendered files in `directory` with these manifests; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(RENDERED_GLOB):
        stale.unlink()
    paths = []
    for position, manifest in enumerate(manifests):
        path = directory / file_name(position, manifest)
        path.write_text(to_yaml(manifest), encoding="utf-8")
        paths.append(path)
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
    help="Directory for the YAML files (created if missing; earlier rendered files are replaced).",
)
def command(spec_path: str, output: Path) -> None:
    """Write the Kubernetes manifests of a spec as YAML files, one per object.

    The same objects `pulumi up` creates (both call the same renderer): weight ConfigMaps, config
    ConfigMaps, Services, NetworkPolicies and Deployments. Apply them with
    `kubectl apply --server-side -f DIR` (client-side apply copies each object into a 256 KiB annotation,
    which a weight chunk exceeds).

    \b
    Example:
      seifer render stacks/dev.pipeline.yaml -o build/dev
    """
    from seifer_iac.release import RELEASE_ERRORS, build_release

    started = time.perf_counter()
    try:
        release = build_release(spec_path, progress=lambda message: click.echo(message, err=True))
    except RELEASE_ERRORS as error:
        for line in str(error).splitlines():
            click.echo(f"error: {line}", err=True)
        raise SystemExit(2) from None
    except OSError as error:
        click.echo(f"error: {error.strerror or error}: {error.filename or spec_path}", err=True)
        raise SystemExit(2) from None
    from seifer_iac.keyfile import KeyFileError, with_key_secret

    try:
        manifests, keys = with_key_secret(release.spec, spec_path, list(release.manifests))
        write_manifests(manifests, output)
    except KeyFileError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    except OSError as error:
        click.echo(f"error: cannot write to {output}: {error.strerror or error}", err=True)
        raise SystemExit(2) from None
    if keys is not None:
        state = "created" if keys.created else "reused"
        click.echo(
            f"CURVE keys {state}: {keys.path}; never commit it, nor the Secret file it wrote to {output}"
        )
    for line in summary_lines(release, output, time.perf_counter() - started):
        click.echo(line)
