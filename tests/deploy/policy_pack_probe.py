"""Run inside the policy pack's own virtualenv (pulumi-policy installed): feed each manifest to each
policy's validate function as pulumi-policy would, print the violations as JSON."""

import json
import runpy
import sys
from pathlib import Path

from pulumi_policy import ResourceValidationArgs

pack = runpy.run_path(sys.argv[1], run_name="seifer_policy_pack")
assert len(pack["policies"]()) == len(pack["RULES"])
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
