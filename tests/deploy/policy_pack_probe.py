"""Run inside the policy pack's own virtualenv (pulumi-policy installed): feed each manifest to each
policy's validate function as pulumi-policy would, print the violations as JSON."""

import json
import runpy
import sys
from pathlib import Path

from pulumi_policy import ResourceValidationArgs

pack = runpy.run_path(sys.argv[1], run_name="seifer_policy_pack")
policies = pack["policies"]()
assert len(policies) == len(pack["RULES"]) + 1  # + the weight-chunk check
levels = {p.name: str(p.enforcement_level) for p in policies}
assert levels["seifer-image-digest"].endswith("ADVISORY") and levels["seifer-host-path"].endswith("MANDATORY")
manifests = json.loads(Path(sys.argv[2]).read_text())
found = []
for name, _, rule in pack["RULES"]:
    validate = pack["validator"](rule)
    for m in manifests:
        group_version = m["apiVersion"] if "/" in m["apiVersion"] else f"core/{m['apiVersion']}"
        typ = f"kubernetes:{group_version}:{m['kind']}"
        args = ResourceValidationArgs(
            typ, m, f"urn:{m['metadata']['name']}", m["metadata"]["name"], None, None
        )
        validate(
            args, lambda message, urn=None, n=name, o=m["metadata"]["name"]: found.append([n, o, message])
        )
print(json.dumps(found))
