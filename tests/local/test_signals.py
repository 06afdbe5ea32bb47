"""SIGTERM/SIGINT become exceptions inside the guarded block, so cleanup runs; the old handlers come back."""

from __future__ import annotations

import os
import signal

import pytest

from seifer_iac.local.signals import Terminated, shielded, terminate_as_exception


def test_sigterm_raises_terminated_with_the_shell_exit_code() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as err, terminate_as_exception():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0.5) if hasattr(signal, "sigtimedwait") else None
    assert err.value.code == 143 and err.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_ignored_signal_stays_ignored_and_shielded_ignores_both() -> None:
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with terminate_as_exception():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
            with shielded():
                assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
                os.kill(os.getpid(), signal.SIGTERM)  # ignored: no exception
    finally:
        signal.signal(signal.SIGINT, old)
