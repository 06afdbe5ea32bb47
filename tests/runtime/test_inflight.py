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
