"""The CI workflows: one secret naming scheme, every secret checked before use (a missing one fails the job
naming it, never a silent fallback to another stack's), and a stack for every Pulumi stack file."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.deploy.conftest import ROOT

WORKFLOWS = ("preview", "deploy")
STACKS = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "stacks").glob("Pulumi.*.yaml")
)


def job(name: str) -> dict:
    (only,) = yaml.safe_load((ROOT / ".github" / "workflows" / f"{name}.yml").read_text())["jobs"].values()
    return only


def kubeconfig_secret(stack: str) -> str:
    return "KUBECONFIG_" + stack.upper().replace("-", "_")


@pytest.mark.parametrize("name", WORKFLOWS)
def test_one_secret_scheme_and_no_fallback(name: str) -> None:
    spec = job(name)
    matrix = spec["strategy"]["matrix"]["include"]
    assert sorted(row["stack"] for row in matrix) == STACKS
    assert all(row["kubeconfig"] == kubeconfig_secret(row["stack"]) for row in matrix)
    text = (ROOT / ".github" / "workflows" / f"{name}.yml").read_text()
    assert set(re.findall(r"secrets\.([A-Z_]+)", text)) == {"PULUMI_ACCESS_TOKEN"}
    expressions = re.findall(r"\$\{\{(.*?)\}\}", text)
    assert "secrets[matrix.kubeconfig]" in text
    assert not [e for e in expressions if "||" in e or "&&" in e]  # no fallback to another value
    env = spec["env"]
    assert env["KUBECONFIG_DATA"] == "${{ secrets[matrix.kubeconfig] }}"


@pytest.mark.parametrize("name", WORKFLOWS)
@pytest.mark.parametrize("unset", ["PULUMI_ACCESS_TOKEN", "KUBECONFIG_DATA", "PULUMI_ORG"])
def test_the_first_step_fails_on_a_missing_secret_and_names_it(name: str, unset: str) -> None:
    step = job(name)["steps"][0]
    assert step["name"] == "Required secrets and variables are set"
    script = (
        step["run"]
        .replace("${{ matrix.kubeconfig }}", "KUBECONFIG_DEV")
        .replace("${{ matrix.stack }}", "dev")
    )
    env = {"PULUMI_ACCESS_TOKEN": "t", "KUBECONFIG_DATA": "k", "PULUMI_ORG": "o", "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(["bash", "-ec", script], env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0
    env[unset] = ""
    failed = subprocess.run(["bash", "-ec", script], env=env, capture_output=True, text=True, check=False)
    named = {"PULUMI_ACCESS_TOKEN": "secret PULUMI_ACCESS_TOKEN", "KUBECONFIG_DATA": "secret KUBECONFIG_DEV"}
    assert failed.returncode == 1
    assert (
        failed.stdout.strip() == f"::error::missing for stack dev: {named.get(unset, 'variable PULUMI_ORG')}"
    )
