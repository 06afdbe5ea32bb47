from __future__ import annotations

from runtime.inflight import Policy, Table


def table(**kw: float) -> Table:
    policy = {"deadline_seconds": 9.0, "attempt_timeout_seconds": 3.0, "max_attempts": 3, "max_in_flight": 2}
    return Table(Policy(**{**policy, **kw}))  # type: ignore[arg-type]


def test_resend_then_fail_after_max_attempts() -> None:
    t = table(deadline_seconds=100.0)
    t.add(1, "x", now=0.0)
    assert t.tick(2.9) == ([], [])
    resend, failed = t.tick(3.0)
    assert [e.attempt for e in resend] == [2] and failed == []
    resend, _ = t.tick(6.0)
    assert [e.attempt for e in resend] == [3]
    resend, failed = t.tick(9.0)
    assert resend == [] and [e.request_id for e in failed] == [1]
    assert "after 3 attempt(s)" in failed[0].error
    assert t.tick(20.0) == ([], [])  # failed once only


def test_overall_deadline_wins() -> None:
    t = table(deadline_seconds=4.0, max_attempts=10)
    t.add(1, "x", now=0.0)
    t.tick(3.0)
    _, failed = t.tick(4.0)
    assert failed and "4 s deadline after 2 attempt(s)" in failed[0].error


def test_first_result_wins_and_duplicates_are_refused() -> None:
    t = table()
    t.add(7, "x", now=0.0)
    assert t.complete(7, "result")
    assert not t.complete(7, "again")
    assert not t.complete(8, "unknown")
    assert t.tick(100.0) == ([], [])  # a completed request never fails or resends
    t.remove(7)
    assert not t.entries


def test_bounded() -> None:
    t = table()
    t.add(1, "a", 0.0)
    assert not t.full()
    t.add(2, "b", 0.0)
    assert t.full()


def test_while_holding_only_the_deadline_fails_and_held_resends_are_free() -> None:
    t = table(deadline_seconds=20.0, attempt_timeout_seconds=1.0, max_attempts=2)
    entry = t.add(1, "x", now=0.0)
    for now in (1.0, 2.0, 3.0, 4.0):  # a rollout: re-sent every attempt timeout, never failed
        resend, failed = t.tick(now, hold=True)
        assert [e.request_id for e in resend] == [1] and failed == []
    assert (entry.attempt, entry.free_attempts) == (5, 4)
    entry.sent_attempt, entry.sent_at = entry.attempt, 4.5
    # the new chain answers a frame sent at 5.0: what went out before it is sent again now, free
    again = t.resend_sent_before(5.0, now=5.1)
    assert [e.request_id for e in again] == [1] and entry.free_attempts == 5
    assert t.resend_sent_before(5.0, now=5.2) == []  # not sent yet: nothing to re-send twice
    # the attempts it had left are still there for a real failure afterwards
    entry.sent_attempt = entry.attempt
    assert [e.request_id for e in t.tick(6.1)[0]] == [1]
    assert [e.request_id for e in t.tick(7.1)[1]] == [1]
    _, failed = t.tick(25.0, hold=True)
    assert failed == []  # failed once only
