"""The runtime image reference: pinned by digest, or a tag that may move.

A tag (`ghcr.io/seifer-iac/runtime:0.1.0`) can be pushed again, so two nodes may run different code under
one name; a digest (`...@sha256:<64 hex>`) names exactly one multi-arch image index. A pinned image can be
cached on the node (IfNotPresent: nothing is pulled again, an edge board keeps working offline); a tag must
be pulled on every pod start (Always) or a node would keep running whatever it pulled first.
"""

from __future__ import annotations

import re

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def digest_of(image: str) -> str | None:
    """The `sha256:...` digest an image reference is pinned to, or None for a tag alone."""
    _, at, digest = image.rpartition("@")
    return digest if at else None


def digest_problem(image: str) -> str | None:
    """A one-line problem with a reference that has a digest part which is not a sha256 digest."""
    digest = digest_of(image)
    if digest is None or DIGEST.match(digest):
        return None
    return (
        f'runtime.image: "{image}": the part after "@" must be sha256: and 64 lowercase hex digits '
        "(the digest `docker buildx imagetools inspect IMAGE:TAG` or the image workflow prints)"
    )


def default_pull_policy(image: str) -> str:
    """IfNotPresent for an image pinned by digest (it cannot change), Always for a tag (it can)."""
    return "IfNotPresent" if digest_of(image) else "Always"


def unpinned_warning(image: str) -> str | None:
    """What `seifer validate` says about an image named by a tag alone, or None when it has a digest."""
    if digest_of(image):
        return None
    return (
        f'runtime.image: "{image}" has no digest, so every pod start pulls it (imagePullPolicy Always) and '
        "a re-pushed tag changes what runs; pin it as IMAGE@sha256:... (docs/deployment.md, publishing)"
    )
