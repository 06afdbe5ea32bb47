"""The stack's Pulumi state holds digests, not weights: the real program under mocks, both stacks."""

from __future__ import annotations

import json

import pytest

from seifer_iac.pulumi_program.figures import stack_row
from seifer_iac.pulumi_program.state import run_program, state_figures
from tests.deploy.conftest import ROOT

MIB = 2**20


@pytest.mark.parametrize(("stack", "limit_mib"), [("dev", 1), ("edge-lab", 5)])
def test_the_state_holds_names_and_digests_not_weight_bytes(stack, limit_mib, tmp_path, request):
    release = request.getfixturevalue("dev_release" if stack == "dev" else "edge_release")
    recording = run_program(stack, tmp_path / "chunks")
    figures = state_figures(stack, recording, list(release.manifests))
    weights = sum(a.size for a in release.artifacts)
    print(
        f"{stack}: {figures.resources} resources, state {figures.state_bytes / MIB:.2f} MiB"
        f" (with the weights in it: {figures.weights_in_state_bytes / MIB:.1f} MiB;"
        f" weights {weights / MIB:.1f} MiB)"
    )
    assert figures.state_bytes < limit_mib * MIB
    assert figures.weights_in_state_bytes > 2 * weights  # what it was: every chunk's bytes, in and out
    for _, inputs in recording.created.values():
        assert "binaryData" not in json.dumps(inputs)
    files = sorted(p.name for p in (tmp_path / "chunks").iterdir())
    assert files == sorted({c.name for a in release.artifacts for c in a.chunks})
    docs = (ROOT / "docs" / "deployment.md").read_text()
    assert stack_row(stack, release, figures) in docs, "stale figures: run make docs-figures"
