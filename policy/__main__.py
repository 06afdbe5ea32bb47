"""The pulumi-policy pack: a thin wrapper that runs each rule of `seifer_iac.policy` on each Kubernetes
resource of a preview or update, reporting its violations as MANDATORY (the update stops), or ADVISORY for
the rules in `seifer_iac.policy.ADVISORY`. Weight chunks, which are not Kubernetes resources in Pulumi's
eyes (a dynamic resource keeps their bytes out of the state), get their own check.

The rules read camelCase manifests; a resource's props are exactly that (Pulumi's Kubernetes inputs keep the
API's field names), so the same functions judge `seifer render` output in the tests and Pulumi's resources
here. `seifer_iac` is imported from the checkout this pack lives in (no TensorFlow needed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seifer_iac.policy import ADVISORY, RULES, weight_chunk_problems  # after the path set-up above

DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"


def manifest_of(resource_type: str, props: dict[str, Any]) -> dict[str, Any]:
    """The manifest a resource stands for; `kind` from the type token when props lack it."""
    kind = props.get("kind") or resource_type.rsplit(":", 1)[-1]
    return {**props, "kind": kind}


def validator(rule: Any) -> Any:
    """A pulumi-policy validate function running one rule on one resource."""

    def validate(args: Any, report_violation: Any) -> None:
        if not args.resource_type.startswith("kubernetes:"):
            return
        for violation in rule([manifest_of(args.resource_type, dict(args.props))]):
            report_violation(violation.message, None)

    return validate


def policy(name: str, description: str, rule: Any) -> ResourceValidationPolicy:
    level = EnforcementLevel.ADVISORY if name in ADVISORY else EnforcementLevel.MANDATORY
    return ResourceValidationPolicy(
        name=f"seifer-{name}", description=description, validate=validator(rule), enforcement_level=level
    )


def validate_weight_chunk(args: Any, report_violation: Any) -> None:
    props = dict(args.props)
    if args.resource_type == DYNAMIC_TYPE and "sha256" in props and "size" in props:
        for problem in weight_chunk_problems(props):
            report_violation(problem, None)


def policies() -> list[ResourceValidationPolicy]:
    chunk = ResourceValidationPolicy(
        name="seifer-weight-chunk",
        description="Each weight chunk has a sha256 and stays under the 1 MiB ConfigMap limit.",
        validate=validate_weight_chunk,
        enforcement_level=EnforcementLevel.MANDATORY,
    )
    return [*(policy(name, description, rule) for name, description, rule in RULES), chunk]


if __name__ == "__main__":
    PolicyPack(name="seifer", enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
