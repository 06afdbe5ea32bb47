"""The command-line shell shared by the stage worker and the dispatcher: one config file in, one clear
log line out on a bad config or a taken port, never a traceback, exit codes a kubelet can act on."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from runtime.config import ConfigError, load_config


def run_process(
    argv: Sequence[str] | None,
    prog: str,
    description: str,
    role: str,
    config_type: type,
    serve: Callable[[Any], Coroutine[Any, Any, None]],
    log: logging.Logger,
) -> int:
    """Parse `--config`, check its role, and run `serve(cfg)`; 2 = bad config, 1 = cannot listen."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--config", required=True, help=f"{role} config JSON (schemas/stage-config.schema.json)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        log.error("bad config: %s", exc)
        return 2
    if not isinstance(cfg, config_type):
        log.error("bad config: role is %r, %s needs role %r", cfg.role, prog.split()[-1], role)
        return 2
    logging.getLogger().setLevel(cfg.log_level)
    try:
        asyncio.run(serve(cfg))
    except OSError as exc:  # e.g. the HTTP port is taken: one clear line, not a traceback
        log.error("cannot listen on %s:%d: %s", cfg.address, cfg.http_port, exc.strerror or exc)
        return 1
    return 0
