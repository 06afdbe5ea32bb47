"""Collecting probe lines: prefixes, medians and spreads, what is missing, and hostile lines."""

from __future__ import annotations

import datetime as dt
import json
import math
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import probe as probe_process
from seifer_iac.probe.collect import MAX_PROBE_NODES, CollectError, all_pairs, collect, gather
from seifer_iac.spec import spec_from_data
from seifer_iac.spec.measured import dump_measured

WHEN = dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.timezone.utc)


def spec_data(nodes=("a", "b", "c"), speeds=None, extra_nodes=()) -> dict:
    speeds = speeds or {}
    return {
        "apiVersion": "seifer.dev/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": "probe-test"},
        "model": {"application": "MobileNetV2", "inputShape": [224, 224, 3], "version": "1"},
        "cluster": {
            "nodes": [
                {"name": n, "memory": "1Gi", **({"speed": speeds[n]} if n in speeds else {})} for n in nodes
            ]
            + list(extra_nodes),
            "bandwidth": {"default": "10Mbps"},
        },
        "dispatcher": {"node": nodes[0]},
        "runtime": {"image": "ghcr.io/x/runtime:1"},
        "planner": {"referenceSpeed": "4GFLOPS"},
    }


SPEC = spec_from_data(spec_data())


def link(a, b, seconds=(1.0,), size=1_000_000, error=None, **extra) -> str:
    result = {
        "seiferProbe": 1,
        "kind": "link",
        "from": a,
        "to": b,
        "bytes": size,
        "seconds": list(seconds),
        "bitsPerSecond": None if error else 8.0e6,  # not used: collect recomputes it from the times
        "error": error,
    }
    return json.dumps({**result, **extra})


def speed(node, seconds=(0.5,), flops=2e9, backend="litert", **extra) -> str:
    result = {
        "seiferProbe": 1,
        "kind": "speed",
        "node": node,
        "backend": backend,
        "precision": "fp32",
        "flops": flops,
        "seconds": list(seconds),
        "flopsPerSecond": 4.0e9,
        "error": None,
    }
    return json.dumps({**result, **extra})


def test_kubectl_prefixes_and_other_lines():
    lines = [
        "2026-11-30T16:00:01.123456789Z " + link("a", "b", (1.0, 2.0, 0.5)),
        "[pod/probe-link-a-c-x7/probe] " + link("a", "c"),
        "[pod/probe-link-b-a-x7/probe] 2026-11-30T16:00:01Z " + link("b", "a"),
        'Defaulted container "probe" out of: probe',
        "some {braces} in another container's log",
        '{"level": "info", "msg": "a JSON log line of something else"}',
        "",
    ]
    collection = gather([("logs", lines)], SPEC, WHEN)
    assert collection.results == 3 and collection.rejected_count == 0 and collection.ignored == 4
    ab = collection.measured.link("a", "b")
    assert (ab.bits_per_s, ab.min_bits_per_s, ab.max_bits_per_s, ab.repeats) == (8e6, 4e6, 16e6, 3)
    assert ab.bytes == 1_000_000


def test_median_of_an_even_count_and_pooled_reruns():
    lines = [link("a", "b", (1.0, 2.0)), link("a", "b", (4.0, 0.5))]  # two runs: four samples
    ab = collect(lines, SPEC, WHEN).link("a", "b")
    assert ab.repeats == 4
    assert ab.bits_per_s == pytest.approx((4e6 + 8e6) / 2)  # median of 2, 4, 8, 16 Mbps


def test_missing_pairs_are_those_with_an_error_and_those_never_reported():
    refused = "cannot connect to 10.0.0.7:5700 within 30 s:\n[Errno 111] Connection refused"
    lines = [link("a", "b"), link("b", "a", (), error=refused)]
    measured = collect(lines, SPEC, WHEN)
    assert [(u.source, u.target, u.error) for u in measured.unreachable] == [
        ("b", "a", "cannot connect to 10.0.0.7:5700 within 30 s: [Errno 111] Connection refused")
    ]
    never = {(u.source, u.target) for u in measured.unmeasured_links}
    assert never == set(all_pairs(SPEC)) - {("a", "b"), ("b", "a")}
    assert {u.name for u in measured.unmeasured_nodes} == {"a", "b", "c"}


def test_a_speed_probe_that_failed_early_names_its_error():
    line = json.dumps(
        {"seiferProbe": 1, "kind": "speed", "node": "c", "backend": None, "precision": None, "flops": None,
         "seconds": [], "flopsPerSecond": None, "error": "cannot read /etc/seifer/probe/probe.json"}
    )  # fmt: skip
    measured = collect([line], SPEC, WHEN)
    assert {u.name: u.reason for u in measured.unmeasured_nodes}[
        "c"
    ] == "cannot read /etc/seifer/probe/probe.json"


def test_a_later_success_wins_over_an_error():
    measured = collect([link("a", "b", (), error="timed out"), link("a", "b")], SPEC, WHEN)
    assert measured.link("a", "b") is not None and not measured.unreachable


def test_only_the_expected_pairs_are_reported_missing():
    measured = collect([link("a", "b")], SPEC, WHEN, pairs=[("a", "b"), ("a", "c")])
    assert [(u.source, u.target) for u in measured.unmeasured_links] == [("a", "c")]


def test_speeds_in_the_specs_units():
    spec = spec_from_data(spec_data(speeds={"a": "8GFLOPS", "b": 1.5}))
    lines = [speed("a", (0.2, 0.25, 0.5)), speed("b"), speed("c", (1.0,), flops=1e9)]
    measured = collect(lines, spec, WHEN)
    a = measured.speed("a")
    assert (a.flops_per_s, a.min_flops_per_s, a.max_flops_per_s) == (8e9, 4e9, 10e9)
    assert a.absolute  # the spec writes a's speed in FLOPS
    assert not measured.speed("b").absolute
    assert measured.speed("c").absolute  # unspecified: like the spec's other speeds in FLOPS
    text = dump_measured(measured)
    assert "{name: a, speed: 8GFLOPS, min: 4GFLOPS, max: 10GFLOPS" in text
    assert "{name: b, speed: 1.0, " in text  # relative, as the spec writes b


def test_relative_speeds_when_the_spec_writes_none():
    measured = collect([speed("a")], SPEC, WHEN)
    assert "{name: a, speed: 1.0, min: 1.0, max: 1.0, repeats: 1" in dump_measured(measured)


def test_a_node_of_an_architecture_without_an_image_is_unmeasured():
    spec = spec_from_data(spec_data(extra_nodes=[{"name": "old", "memory": "1Gi", "arch": "arm"}]))
    measured = collect([], spec, WHEN)
    reason = {u.name: u.reason for u in measured.unmeasured_nodes}["old"]
    assert "runtime.platforms" in reason and "arm" in reason
    assert ("old", "a") not in all_pairs(spec)
    assert {("a", "old"), ("old", "a")} <= {(u.source, u.target) for u in measured.unmeasured_links}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (link("a", "zz"), 'to "zz" is not a node'),
        (link("a", "a"), "the same node"),
        (link("a", "b", (-1.0,)), "seconds must hold positive numbers"),
        (link("a", "b", (1e-30,)), "outside 1 bps"),
        (link("a", "b", size=-5), "bytes must be"),
        (link("a", "b", size=True), "bytes must be"),
        (link("a", "b", size=10**30), "integer of more than 20 digits"),
        (link("a", "b", ()), "needs seconds"),
        (link("a", "b", error=7), "error must be a string"),
        (link("a", "b", bitsPerSecond="fast"), "bitsPerSecond must be"),
        (link("a", "b").replace('"seconds": [1.0]', '"seconds": "1.0"'), "seconds must be a list"),
        (link("a", "b", seiferProbe=2), "seiferProbe must be 1"),
        (link("a", "b", seiferProbe=True), "seiferProbe must be 1"),
        (link("a", "b", kind="bogus"), 'kind must be "link" or "speed"'),
        (link("a", "b", **{"from": ["a"]}), "from must be a non-empty string"),
        (link("a", "b").replace("1.0]", "NaN]"), "NaN is not a number"),
        (link("a", "b").replace("1.0]", "Infinity]"), "Infinity is not a number"),
        (link("a", "b").replace("1.0]", "1e999]"), "seconds must hold positive numbers"),
        (link("a", "b")[:-5], "not valid JSON"),
        (link("a", "b", nested=[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]), "nested or repeated"),
        (speed("a", backend="tensorflow"), "measured with tensorflow fp32 but the spec runs litert fp32"),
        (speed("a", flops=0), "flops must be a positive number"),
        (speed("a", (1e-20,)), "outside 1 FLOP/s"),
    ],
)
def test_bad_results_are_rejected_with_source_and_line(line, reason):
    collection = gather([("logs/x.log", ["noise", "[pod/p/c] " + line])], SPEC, WHEN)
    assert collection.rejected_count == 1 and collection.results == 0
    (rejected,) = collection.rejected
    assert str(rejected).startswith("logs/x.log:2: rejected: ")
    assert reason in rejected.reason
    assert "\n" not in str(rejected)


def test_the_same_line_twice_counts_once():
    collection = gather([("x", [link("a", "b", (1.0, 2.0))] * 2)], SPEC, WHEN)
    assert collection.results == 1 and collection.ignored == 1
    assert collection.measured.link("a", "b").repeats == 2


def test_a_huge_line_is_rejected_quickly():
    huge = link("a", "b", [1.0] * 200_000)
    collection = gather([("x", [huge])], SPEC, WHEN)
    assert "longer than" in collection.rejected[0].reason


def test_deep_nesting_never_recurses():
    collection = gather([("x", ['{"seiferProbe": ' + "[" * 100_000 + "]" * 100_000 + "}"])], SPEC, WHEN)
    assert collection.rejected_count == 1


def test_time_zone_and_size_limits():
    with pytest.raises(ValueError, match="time zone"):
        collect([], SPEC, dt.datetime(2026, 1, 1))
    big = spec_from_data(spec_data(nodes=tuple(f"n{i}" for i in range(MAX_PROBE_NODES + 1))))
    with pytest.raises(CollectError, match="at most 100"):
        collect([], big, WHEN)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = (
    "seiferProbe kind from to bytes seconds bitsPerSecond error node backend precision flops flopsPerSecond"
)
FIELDS = FIELDS.split()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([link("a", "b", (1.0, 2.0)), speed("b", (0.5, 0.4))]),
    changes=st.dictionaries(st.sampled_from(FIELDS), JSONISH, max_size=4),
    prefix=st.sampled_from(["", "2026-11-30T16:00:00Z ", "[pod/x/y] "]),
)
def test_structured_bad_results_never_raise(base, changes, prefix):
    line = prefix + json.dumps({**json.loads(base), **changes}, allow_nan=True)
    collection = gather([("stdin", [line])], SPEC, WHEN)
    assert collection.results + collection.rejected_count + collection.ignored == 1
    for rejected in collection.rejected:
        assert "\n" not in str(rejected) and len(str(rejected)) < 400
    dump_measured(collection.measured)  # whatever was accepted can be written
    for found in collection.measured.links:
        assert math.isfinite(found.bits_per_s) and found.bits_per_s > 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=20))
def test_arbitrary_lines_never_raise(lines):
    collection = gather([("stdin", lines)], SPEC, WHEN)
    assert collection.results == 0
    assert collection.ignored + collection.rejected_count == len(lines)


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_a_log_timestamp_utc_cannot_hold_is_ignored_not_written(stamp):
    collection = gather([("x", [f"{stamp} {link('a', 'b')}"])], SPEC, WHEN)
    assert collection.results == 1 and collection.latest is None  # before: kept, then the dump raised


def _real_link_error(host: str, port: int) -> str:
    """The error line runtime.probe itself prints for a transfer to host:port (1 s timeouts)."""
    try:
        probe_process.measure_link(host, port, 50_000_000, 1, connect_timeout_s=1.0, timeout_s=1.0)
    except probe_process.ProbeError as error:
        return json.dumps(probe_process.link_result("a", "b", 50_000_000, [], probe_process.one_line(error)))
    raise AssertionError("the transfer should have failed")


def test_only_an_error_finding_no_path_makes_a_pair_unreachable_a_timeout_leaves_it_unmeasured():
    """Before: every error was `unreachable`, and a spec including the file loses an unreachable link, so
    a slow link whose transfer timed out was removed from the spec. The errors are the probe's own."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        refused_port = closed.getsockname()[1]  # bound, not listening: refused
        refused = _real_link_error("127.0.0.1", refused_port)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (backlog), never reads
        timed_out = _real_link_error("127.0.0.1", silent.getsockname()[1])
    measured = collect([refused], SPEC, WHEN, pairs=[("a", "b")])
    assert [(u.source, u.target) for u in measured.unreachable] == [("a", "b")]
    measured = collect([timed_out], SPEC, WHEN, pairs=[("a", "b")])
    assert not measured.unreachable
    assert [(u.source, u.target) for u in measured.unmeasured_links] == [("a", "b")]
    assert "took longer than 1 s" in measured.unmeasured_links[0].reason


def test_a_rejected_line_of_a_probe_given_bad_arguments_shows_what_the_probe_said(capsys):
    argv = ["link", "--from", "a", "--to", "b", "--host", "h", "--port", "70000"]
    assert probe_process.main(argv) == 0
    line = capsys.readouterr().out  # the line runtime.probe prints (bytes: null, so it is rejected)
    (rejected,) = gather([("x", [line])], SPEC, WHEN).rejected
    assert "the probe said: bad arguments: argument --port: 70000" in str(rejected), str(rejected)
