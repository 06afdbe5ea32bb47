"""Turn SIGTERM/SIGINT into exceptions, so every `with` block unwinds and cleans up what it made.

Python's default SIGTERM ends the process without running `finally` or `__exit__`, which would leave
namespaces and child processes behind. Raising instead lets the normal unwinding do the cleanup, in the
reverse order of creation, with no cleanup logic inside a signal handler.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import FrameType
from typing import TypeVar

HANDLED = (signal.SIGTERM, signal.SIGINT)
_Scoped = TypeVar("_Scoped", bound="SignalScoped")


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


class SignalScoped:
    """Base of the local runner's resource owners (emulated network, supervised processes).

    `with` installs `terminate_as_exception`, runs `start()`, and always runs `close()` on the way out
    (also when start fails half-way), so a Ctrl-C or `seifer down` never leaves namespaces or processes.
    Subclasses set `self._signals = terminate_as_exception()` and define an idempotent `close`.
    """

    _signals: AbstractContextManager[None]

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Scoped) -> _Scoped:
        self._signals.__enter__()
        try:
            self.start()
        except BaseException:
            try:
                self.close()
            finally:
                self._signals.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.close()
        finally:
            self._signals.__exit__(None, None, None)
