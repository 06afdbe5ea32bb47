"""The local shell: run a pipeline as processes on this host, optionally inside emulated network namespaces.

`netns` builds the cluster network emulator (one namespace per node, tc rate limits per directed pair),
`supervisor` starts, restarts and stops the processes, `teardown` removes what a previous run left behind.
"""
