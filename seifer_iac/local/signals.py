"""Turn SIGTERM/SIGINT into exceptions, so every `with` block unwinds and cleans up what it made.

Python's default SIGTERM ends the process without running `finally` or `__exit__`, which would leave
namespaces and child processes behind. Raising instead lets the normal unwinding do the cleanup, in the
reverse order of creation, with no cleanup logic inside a signal handler.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGINT)


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM or SIGINT arrives; exit code 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Inside the block SIGTERM/SIGINT raise `Terminated`; the previous handlers come back afterwards.

    A signal the caller chose to ignore (SIG_IGN, e.g. under nohup) stays ignored. Outside the main thread
    Python cannot install handlers, so the block runs unchanged.
    """
    if not _in_main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in HANDLED}
    for sig, old in previous.items():
        if old is not signal.SIG_IGN:
            signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


@contextmanager
def shielded() -> Iterator[None]:
    """Ignore SIGTERM/SIGINT while cleaning up, so a second Ctrl-C cannot leave the cleanup half done."""
    if not _in_main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in HANDLED}
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
