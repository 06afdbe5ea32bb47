"""The Pulumi program: stack config -> spec -> release -> one InferencePipeline component -> exports.

Thin on purpose: every object it creates is a manifest rendered by `seifer_iac.manifests`, so `pulumi up`,
`seifer render` and the local runner deploy the same thing.
"""
