"""Plan + artifacts -> plain Kubernetes objects (camelCase dicts): the one source of truth that Pulumi,
`seifer render` and the local runner all consume. Pure: no pulumi, no TensorFlow."""

from seifer_iac.manifests.configs import config_json, dispatcher_config, stage_config
from seifer_iac.manifests.naming import chain_hash, dispatcher_name, service_host, stage_name
from seifer_iac.manifests.render import render_manifests

__all__ = [
    "chain_hash",
    "config_json",
    "dispatcher_config",
    "dispatcher_name",
    "render_manifests",
    "service_host",
    "stage_config",
    "stage_name",
]
