"""One home for benchmarks: each answers a question with measured figures, run by `seifer bench ...`.

`paper` (the research's placement grid, on `grid`'s random clusters), `runtime` (per-hop overhead, codecs,
a chain against one process, on `localchain`), `cluster` (the emulated cluster: `cluster_gen` makes the
specs, `load` drives requests, `cluster_report` writes tables and plots). `profiles/*.json` holds the
precomputed profiles of the research's models. Above the local runner and the Pulumi program, below the CLI;
the runtime package (what the container runs) never imports it.
"""
