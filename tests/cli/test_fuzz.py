"""Property tests: whatever bytes a spec holds, and however a valid spec, profile or plan lock is mutated,
`seifer validate` and `seifer plan` end with exit 0 or 2, never a traceback, and a refusal names the file.
In-process (CliRunner) so hundreds of examples stay fast; the classes that could hang or crash the process
are in test_hostile_files.py, in subprocesses."""

from __future__ import annotations

import copy
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seifer_iac.cli.main import cli
from tests.cli.bad_inputs import LOCK, PROFILE, SPEC, base_lock, base_profile, base_spec, dump_yaml

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2**63, 2**64, 1e308, 1e-308, float("nan"), float("inf")]),
    st.text(max_size=20),
    st.sampled_from(
        ["1Gi", "64Mi", "-1Gi", "20Mbps", "0bps", "1e999Mi", "2s", "10GFLOPS", "zfp", "lz4", "pi-1"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a document (the root excluded)."""
    found = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found.append((*prefix, key))
        found += paths(value, (*prefix, key))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(data)))
        parent = data
        for part in where[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[where[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
        else:
            parent[where[-1]] = draw(values)
        if not paths(data):
            break
    return data


def run(folder: Path, *args: str):
    result = CliRunner().invoke(cli, list(args))
    output = result.output
    assert result.exit_code in (0, 2), f"exit {result.exit_code}: {output[-1500:]!r} {result.exception!r}"
    assert not result.exception or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    return result


def write(folder: Path, spec: Any = None, profile: Any = None, lock: Any = None) -> None:
    (folder / SPEC).write_text(spec if isinstance(spec, str) else dump_yaml(spec or base_spec()))
    profile_text = profile if isinstance(profile, str) else json.dumps(profile or base_profile())
    (folder / PROFILE).write_text(profile_text)
    if lock is not None:
        (folder / LOCK).write_text(json.dumps(lock))


@SETTINGS
@given(st.binary(max_size=3000))
def test_any_bytes_as_a_spec(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write(folder)
        (folder / SPEC).write_bytes(raw)
        result = run(folder, "validate", str(folder / SPEC))
        if result.exit_code == 2:
            assert all(line.startswith(str(folder / SPEC)) for line in result.stderr.splitlines() if line)


@SETTINGS
@given(st.text(alphabet="[]{}:,-&*!<> \n\t\"'#|.0123456789abekyn~", max_size=400))
def test_yaml_shaped_text_as_a_spec(text: str) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write(folder, spec=text)
        run(folder, "validate", str(folder / SPEC))


@SETTINGS
@given(mutated(base_spec()))
def test_mutated_specs(data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        try:
            text = dump_yaml(data)
        except Exception:  # a value PyYAML cannot write: nothing for the CLI to read
            return
        write(folder, spec=text)
        checked = run(folder, "validate", str(folder / SPEC))
        planned = run(folder, "plan", str(folder / SPEC))
        assert (checked.exit_code == 0) == (planned.exit_code == 0) or checked.exit_code == 0
        if planned.exit_code == 2:
            assert str(folder) in planned.stderr or "--without" in planned.stderr


@SETTINGS
@given(mutated(base_profile()))
def test_mutated_profiles(data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write(folder, profile=json.dumps(data))
        result = run(folder, "plan", str(folder / SPEC), "--format", "json")
        if result.exit_code == 2:
            assert PROFILE in result.stderr
        else:
            plan = json.loads(result.stdout)
            assert math.isfinite(plan["bottleneck_s"]) and plan["stages"]


@SETTINGS
@given(mutated(base_lock()))
def test_mutated_plan_locks(data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write(folder, lock=data)
        result = run(folder, "plan", str(folder / SPEC), "--diff")
        if result.exit_code == 2:
            assert LOCK in result.stderr
