"""The dispatcher's in-flight table: deadlines, re-sends and exactly-once completion, with no I/O.

Inside the chain delivery is at-least-once: a request whose result has not come back within the attempt
timeout is sent again with the next attempt number (a killed stage loses what it held). Towards the
client it is exactly-once: the first result for a request id completes it, later ones (the original
attempt arriving late, or a replay) are counted as duplicates and dropped. After ``max_attempts`` or the
overall deadline the request fails with a reason, never hangs.

While the chain is being replaced (a rollout: ``hold``), re-sends are free: a request then fails only at its
deadline, and once the new chain answers every request last sent into the old one is sent again at once
(``resend_sent_before``), also free, so the attempts a request had left are kept for real failures.

Times are passed in (``now``), so the policy is tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Entry:
    """One request in flight (mutable: its attempt number advances)."""

    request_id: int
    payload: Any
    deadline: float
    attempt: int = 1
    resend_at: float = 0.0
    sent_attempt: int = 0
    sent_at: float = float("-inf")  # when the current attempt went out (monotonic)
    free_attempts: int = 0  # re-sends made while the chain was being replaced; they do not count
    result: Any = None
    error: str = ""
    done: bool = False


@dataclass(frozen=True)
class Policy:
    deadline_seconds: float
    attempt_timeout_seconds: float
    max_attempts: int
    max_in_flight: int


@dataclass
class Table:
    """Request id -> Entry, with the policy that decides re-sends and failures."""

    policy: Policy
    entries: dict[int, Entry] = field(default_factory=dict)

    def full(self) -> bool:
        return len(self.entries) >= self.policy.max_in_flight

    def add(self, request_id: int, payload: Any, now: float) -> Entry:
        entry = Entry(
            request_id,
            payload,
            deadline=now + self.policy.deadline_seconds,
            resend_at=now + self.policy.attempt_timeout_seconds,
        )
        self.entries[request_id] = entry
        return entry

    def complete(self, request_id: int, result: Any) -> bool:
        """Record the first result for ``request_id``; False for a duplicate or unknown id."""
        entry = self.entries.get(request_id)
        if entry is None or entry.done:
            return False
        entry.result, entry.done = result, True
        return True

    def remove(self, request_id: int) -> None:
        self.entries.pop(request_id, None)

    def resend_sent_before(self, moment: float, now: float) -> list[Entry]:
        """Entries whose current attempt went out before ``moment`` (into a chain since replaced): their
        next attempt, free, to send now."""
        again = []
        for entry in self.entries.values():
            if not entry.done and entry.sent_attempt == entry.attempt and entry.sent_at < moment:
                entry.attempt += 1
                entry.free_attempts += 1
                entry.resend_at = now + self.policy.attempt_timeout_seconds
                again.append(entry)
        return again

    def tick(self, now: float, hold: bool = False) -> tuple[list[Entry], list[Entry]]:
        """Advance timers: (entries to re-send with their new attempt, entries that just failed).
        With ``hold`` (the chain is being replaced) only the deadline fails a request."""
        resend, failed = [], []
        for entry in self.entries.values():
            if entry.done:
                continue
            if now >= entry.deadline:
                entry.error = (
                    f"no result within the {self.policy.deadline_seconds:g} s deadline "
                    f"after {entry.attempt} attempt(s)"
                )
            elif now >= entry.resend_at:
                if entry.attempt - entry.free_attempts >= self.policy.max_attempts and not hold:
                    entry.error = (
                        f"no result after {entry.attempt} attempt(s) of "
                        f"{self.policy.attempt_timeout_seconds:g} s each"
                    )
                else:
                    entry.attempt += 1
                    entry.free_attempts += hold
                    entry.resend_at = now + self.policy.attempt_timeout_seconds
                    resend.append(entry)
                    continue
            else:
                continue
            entry.done = True
            failed.append(entry)
        return resend, failed
