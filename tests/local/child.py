"""A stand-in for `seifer up --local` run as a separate process: `python -m tests.local.child RUN_DIR PIPELINE
MODE`, MODE = plain (two HTTP servers on loopback) or netns (one per emulated node). Prints READY when all
are ready, then serves until signalled."""

from __future__ import annotations

import sys
from contextlib import ExitStack

from seifer_iac.local.netns import Emulator, EmulatorConfig, PairLimit
from seifer_iac.local.supervisor import ProcessSpec, Supervisor
from tests.local.helpers import free_port, server_argv


def main(run_dir: str, pipeline: str, mode: str) -> None:
    with ExitStack() as stack:
        specs = []
        if mode == "netns":
            config = EmulatorConfig(
                pipeline, ("a", "b"), (PairLimit("a", "b", 8e6), PairLimit("b", "a", 8e6))
            )
            emu = stack.enter_context(Emulator(config))
            for node in config.nodes:
                host, port = emu.address_of(node), 8700
                specs.append(
                    ProcessSpec(
                        name=f"srv-{node}",
                        argv=server_argv(port, host, with_child=True),
                        prefix=tuple(emu.exec_prefix(node)),
                        ready_url=f"http://{host}:{port}/healthz",
                    )
                )
        else:
            for name in ("one", "two"):
                port = free_port()
                specs.append(
                    ProcessSpec(
                        name, server_argv(port, with_child=True), ready_url=f"http://127.0.0.1:{port}/healthz"
                    )
                )
        sup = stack.enter_context(
            Supervisor(run_dir, specs, pipeline=pipeline, netns=mode == "netns", grace_s=2)
        )
        sup.wait_ready(30)
        print("READY", flush=True)
        sup.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:4])
