"""Reading hostile files: regular files only, bounded size and nesting, YAML aliases within a budget
(merge keys still work), numbers that fit 64 bits and are finite, each problem naming the field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seifer_iac.spec.documents import (
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    DocumentError,
    number_problems,
    parse_json,
    parse_yaml,
    read_text,
    too_deep,
)


def test_merge_keys_merge_and_own_keys_win() -> None:
    data = parse_yaml("base: &b {memory: 1Gi, speed: 2}\nnode: {<<: *b, name: pi-1, speed: 3}\n", "s")
    assert data["node"] == {"memory": "1Gi", "speed": 3, "name": "pi-1"}


def test_a_merge_of_several_anchors() -> None:
    data = parse_yaml("a: &a {x: 1}\nb: &b {y: 2}\nc: {<<: [*a, *b], z: 3}\n", "s")
    assert data["c"] == {"x": 1, "y": 2, "z": 3}


def test_a_key_given_twice_is_refused_even_beside_a_merge() -> None:
    with pytest.raises(DocumentError, match="given twice"):
        parse_yaml("a: &a {x: 1}\nc: {<<: *a, z: 3, z: 4}\n", "s")


def test_aliases_within_the_budget_are_fine_beyond_it_refused_with_the_place() -> None:
    row = "[" + ", ".join(["0"] * 999) + "]"
    within = f"a: &a {row}\n" + "".join(f"b{i}: *a\n" for i in range(MAX_ALIAS_VALUES // 1000 - 1))
    assert len(parse_yaml(within, "s")) == MAX_ALIAS_VALUES // 1000
    beyond = within + "".join(f"c{i}: *a\n" for i in range(3))
    with pytest.raises(DocumentError, match=r"c1 \(line \d+\): aliases repeat more than"):
        parse_yaml(beyond, "s")


def test_nesting_is_bounded_and_expanded_aliases_count() -> None:
    ok = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    parse_yaml(ok, "s")
    with pytest.raises(DocumentError, match="nested more than"):
        parse_yaml("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH, "s")
    deep = "[" * 40 + "]" * 40
    with pytest.raises(DocumentError, match="nested more than"):  # 40 + 40 levels once *d is expanded
        parse_yaml(f"d: &d {deep}\ne: {'[' * 40}*d{']' * 40}\n", "s")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: &a [*a]", "recursive alias"),
        ("a: *b", "not defined"),
        ("a: &x 1\n*x : 2", "alias as a mapping key"),
    ],
)
def test_alias_misuse(text: str, words: str) -> None:
    with pytest.raises(DocumentError, match=words):
        parse_yaml(text, "s")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"a": NaN}', "a: nan"),
        ('{"a": [1, Infinity]}', "a[1]: inf"),
        ('{"a": {"b": 1e999}}', "a.b: 1e999 is too large"),
        ('{"a": 9223372036854775808}', "a: 9223372036854775808 is too large"),
        ('{"a": -' + "9" * 5000 + "}", "a: -999"),
    ],
)
def test_json_numbers_are_named_by_field(text: str, field: str) -> None:
    with pytest.raises(DocumentError, match="^s: " + field.replace("[", r"\[").replace("]", r"\]")):
        parse_json(text, "s")


def test_json_integers_at_the_64_bit_edge_are_kept() -> None:
    assert parse_json('{"a": 9223372036854775807, "b": -9223372036854775807}', "s")["a"] == 2**63 - 1


def test_number_problems_in_yaml_values() -> None:
    data = parse_yaml("a: .nan\nb: [1, -.inf]\nc: 0x" + "f" * 20 + "\nd: true\n", "s")
    problems = number_problems(data)
    assert problems[0].startswith("a: nan") and problems[1].startswith("b[1]: -inf")
    assert problems[2].startswith("c:") and "64 bits" in problems[2] and len(problems) == 3


def test_too_deep_walks_without_recursion() -> None:
    data: list = []
    for _ in range(100_000):
        data = [data]
    assert too_deep(data) is not None


@pytest.mark.parametrize("kind", ["fifo", "dir", "device"])
def test_only_regular_files_are_read(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would block forever without a writer
    elif kind == "dir":
        path.mkdir()
    else:
        path = Path("/dev/zero")
    with pytest.raises(DocumentError, match="not a file"):
        read_text(path, "a spec", 1000)


def test_size_is_bounded_even_when_stat_says_zero(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"a" * 1001)
    with pytest.raises(DocumentError, match="at most 1,000 bytes"):
        read_text(path, "a spec", 1000)
    assert read_text("/proc/self/status", "a status", 10**6).startswith("Name:")  # st_size is 0


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(DocumentError, match="line 2: not UTF-8"):
        read_text(path, "a spec", 1000)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: " + "9" * 5000 + "\n", "line 2"),  # past Python's 4300-digit int limit: was ValueError
        ("a: 1\nb: 0000-01-01\n", "line 2"),  # year 0: was ValueError
    ],
)
def test_a_value_python_cannot_hold_is_a_document_error_at_its_line(text: str, line: str) -> None:
    with pytest.raises(DocumentError, match=f"{line}.*out of range"):
        parse_yaml(text, "x.yaml")
