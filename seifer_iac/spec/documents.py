"""Read a file a user (or an attacker) names: bounded, never blocking, never recursing without limit.

Every input file of the command line (a spec, a profile, a plan lock, a render marker) comes through here,
so one place decides what a hostile file can cost: only regular files are opened (a named pipe would block
forever, `/dev/zero` never ends), at most `max_bytes` are read, nesting is bounded before any recursive
code walks the document, YAML aliases may repeat at most `MAX_ALIAS_VALUES` values in total (an "alias
bomb" of a few hundred bytes otherwise expands to billions), and numbers must fit 64 bits and be finite.
Errors are `DocumentError`: one line naming the file and, where known, the field and line.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from seifer_iac.spec.errors import field_path

MAX_SPEC_BYTES = 16 * 2**20  # a spec of 20,000 nodes is about 2 MiB
MAX_JSON_BYTES = 64 * 2**20  # profiles of the largest keras.applications models are about 1 MiB
MAX_DEPTH = 64  # a spec nests 5 levels, a profile 4
MAX_ALIAS_VALUES = 200_000  # values YAML aliases may repeat in one document (merge keys use a few each)
MAX_INT = 2**63 - 1

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster when present


class DocumentError(ValueError):
    """A file that cannot be read as a document; str() is '<file>: <where>: <what to do>'."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


def read_text(path: str | Path, what: str, max_bytes: int) -> str:
    """The UTF-8 text of a regular file of at most max_bytes; DocumentError otherwise.

    The file is opened non-blocking and checked with fstat on the open descriptor, so a named pipe or a
    device is refused without reading from it (and a file swapped between check and open is still checked).
    """
    source = str(path)
    check_regular_file(source, what)
    try:
        descriptor = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise DocumentError(source, f"cannot read the file ({error.strerror or error})") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        refused = _not_regular(info.st_mode, what)
        if refused:
            raise DocumentError(source, refused)
        if info.st_size > max_bytes:
            raise DocumentError(source, _too_big(info.st_size, max_bytes, what))
        data = handle.read(max_bytes + 1)  # st_size may lie (/proc files say 0)
    if len(data) > max_bytes:
        raise DocumentError(source, _too_big(len(data), max_bytes, what))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DocumentError(
            source, f"line {line}: not UTF-8 text (byte {error.start}); save the file as UTF-8"
        ) from None


def check_regular_file(path: str | Path, what: str, max_bytes: int | None = None) -> None:
    """DocumentError unless path is an existing regular file (of at most max_bytes, if given)."""
    source = str(path)
    try:
        info = os.stat(source)
    except FileNotFoundError:
        raise DocumentError(source, f"no such file; pass the path of {what}") from None
    except OSError as error:
        raise DocumentError(source, f"cannot read the file ({error.strerror or error})") from None
    refused = _not_regular(info.st_mode, what)
    if refused:
        raise DocumentError(source, refused)
    if max_bytes is not None and info.st_size > max_bytes:
        raise DocumentError(source, _too_big(info.st_size, max_bytes, what))


def _not_regular(mode: int, what: str) -> str | None:
    if stat.S_ISREG(mode):
        return None
    kind = {
        stat.S_ISDIR(mode): "a directory",
        stat.S_ISFIFO(mode): "a named pipe",
        stat.S_ISCHR(mode): "a character device",
        stat.S_ISBLK(mode): "a block device",
        stat.S_ISSOCK(mode): "a socket",
    }.get(True, "not a regular file")
    return f"is {kind}, not a file; pass the path of {what}"


def _too_big(size: int, limit: int, what: str) -> str:
    return f"is {size:,} bytes or more; {what} may have at most {limit:,} bytes"


# ---------------------------------------------------------------------------------------------- YAML


class _StrictMappings:
    """Refuse a key given twice in one mapping (plain YAML silently keeps the last); merge keys
    (`<<: *base`) still merge, and a key of the mapping itself overrides a merged one, as YAML says."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice in one mapping", key_node.start_mark
                )
            seen.add(key if isinstance(key, (str, int, float, bool)) else id(key))
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class StrictLoader(_StrictMappings, _BaseLoader):  # type: ignore[misc, valid-type]
    pass


def _within_python(construct: Any) -> Any:
    """A scalar constructor whose Python limits (an integer of more than 4300 digits, a timestamp past
    year 9999 once its offset is applied) become a YAML error at the value's line, not a ValueError."""

    def checked(loader: Any, node: yaml.ScalarNode) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, OverflowError) as error:
            problem = f"{str(node.value)[:40]}... is out of range ({' '.join(str(error).split())[:80]})"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None

    return checked


for _tag, _construct in (
    ("tag:yaml.org,2002:int", yaml.constructor.SafeConstructor.construct_yaml_int),
    ("tag:yaml.org,2002:timestamp", yaml.constructor.SafeConstructor.construct_yaml_timestamp),
):
    StrictLoader.add_constructor(_tag, _within_python(_construct))


def parse_yaml(text: str, source: str) -> Any:
    """The document of a YAML (or JSON) text, after the nesting and alias checks; DocumentError otherwise."""
    try:
        _check_events(yaml.parse(text, Loader=_BaseLoader), source)
        return yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        if "another document" in reason:
            raise DocumentError(source, f"{where}holds more than one YAML document (---); keep one") from None
        if "nesting depth" in reason:  # libyaml's scanner stops at 1000 before our check sees the events
            raise DocumentError(
                source, f"{where}nested more than {MAX_DEPTH} levels deep; flatten it"
            ) from None
        raise DocumentError(source, f"{where}not valid YAML ({reason})") from None
    except RecursionError:  # cannot happen after _check_events; kept so no input ever shows a traceback
        raise DocumentError(source, f"nested more than {MAX_DEPTH} levels deep") from None


class _Frame:
    """One open mapping or sequence while scanning events: its expanded size and height so far, and the
    field path of what comes next (a mapping alternates key, value)."""

    __slots__ = ("anchor", "height", "index", "is_map", "key", "size", "want_key")

    def __init__(self, is_map: bool, anchor: str | None) -> None:
        self.is_map = is_map
        self.anchor = anchor
        self.size = 1
        self.height = 1
        self.index = 0
        self.key: object = None
        self.want_key = True


def _path(stack: list[_Frame]) -> str:
    parts: list[object] = []
    for frame in stack:
        if frame.is_map:
            if frame.key is not None and not frame.want_key:
                parts.append(frame.key)
        else:
            parts.append(frame.index)
    return field_path(parts)


def _where(stack: list[_Frame], mark: Any) -> str:
    line = f"line {mark.line + 1}" if mark is not None else "somewhere"
    return f"{_path(stack)} ({line})"


def _check_events(events: Iterator[Any], source: str) -> None:
    """Walk the parser's events (no recursion, no objects built): bound depth, refuse recursive aliases
    and count every value aliases repeat, with the size of each anchored value computed once."""
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded size, height) of its finished value
    stack: list[_Frame] = []
    repeated = 0

    def add(size: int, height: int, mark: Any) -> None:
        if not stack:
            return
        parent = stack[-1]
        parent.size += size
        parent.height = max(parent.height, height + 1)
        if len(stack) - 1 + parent.height > MAX_DEPTH:
            raise DocumentError(
                source, f"{_where(stack, mark)}: nested more than {MAX_DEPTH} levels deep; flatten it"
            )
        if parent.is_map:
            parent.want_key = not parent.want_key
        else:
            parent.index += 1

    for event in events:
        mark = getattr(event, "start_mark", None)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            frame = _Frame(isinstance(event, yaml.MappingStartEvent), event.anchor)
            stack.append(frame)
            if len(stack) > MAX_DEPTH:
                raise DocumentError(
                    source,
                    f"{_where(stack[:-1], mark)}: nested more than {MAX_DEPTH} levels deep; flatten it",
                )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = stack.pop()
            if frame.anchor is not None:
                anchors[frame.anchor] = (frame.size, frame.height)
            add(frame.size, frame.height, mark)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                anchors[event.anchor] = (1, 0)
            if stack and stack[-1].is_map and stack[-1].want_key:
                stack[-1].key = event.value
            add(1, 0, mark)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                open_anchors = {frame.anchor for frame in stack}
                why = "refers to a value that contains it (a recursive alias)"
                if event.anchor not in open_anchors:
                    why = "is not defined before this point"
                raise DocumentError(source, f"{_where(stack, mark)}: alias *{event.anchor} {why}; remove it")
            size, height = anchors[event.anchor]
            repeated += size
            if repeated > MAX_ALIAS_VALUES:
                raise DocumentError(
                    source,
                    f"{_where(stack, mark)}: aliases repeat more than {MAX_ALIAS_VALUES:,} values "
                    f"(*{event.anchor} alone is {size:,}); write the values out or use fewer aliases",
                )
            if stack and stack[-1].is_map and stack[-1].want_key:
                raise DocumentError(source, f"{_where(stack, mark)}: an alias as a mapping key; use text")
            add(size, height, mark)


# ---------------------------------------------------------------------------------------------- JSON


class Oversized:
    """A JSON number token too large to keep (beyond 64 bits, or beyond a float): number_problems names
    its field; the token is never converted (int() of 5,000 digits is slow, then refused)."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token[:30] + ("..." if len(self.token) > 30 else "")


def _json_int(token: str) -> int | Oversized:
    if len(token.lstrip("-")) > 19 or abs(int(token)) > MAX_INT:
        return Oversized(token)
    return int(token)


def _json_float(token: str) -> float | Oversized:
    value = float(token)
    return value if math.isfinite(value) else Oversized(token)


def parse_json(text: str, source: str) -> Any:
    """The document of a JSON text: no NaN/Infinity, integers within 64 bits, bounded nesting; a problem
    names its field."""
    try:
        data = json.loads(text, parse_int=_json_int, parse_float=_json_float)
    except json.JSONDecodeError as error:
        raise DocumentError(
            source, f"line {error.lineno}, column {error.colno}: not valid JSON ({error.msg})"
        ) from None
    except RecursionError:
        raise DocumentError(source, f"nested more than {MAX_DEPTH} levels deep; flatten it") from None
    deep = too_deep(data)
    if deep is not None:
        raise DocumentError(source, f"{deep}: nested more than {MAX_DEPTH} levels deep; flatten it")
    problems = number_problems(data, limit=1)
    if problems:
        raise DocumentError(source, problems[0])
    return data


def too_deep(data: Any, limit: int = MAX_DEPTH) -> str | None:
    """The field path of the first value nested deeper than limit, or None (iterative: no recursion)."""
    stack: list[tuple[Any, tuple[object, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > limit:
            return field_path(path[:limit])
        if isinstance(value, dict):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
    return None


def number_problems(data: Any, limit: int = 20) -> list[str]:
    """'field: ...' for every NaN, infinity or integer beyond 64 bits in a parsed document (YAML reads
    `.nan`, `.inf` and 10**30 without complaint). Iterative, in document order; at most `limit` lines."""
    problems: list[str] = []
    stack: list[tuple[Any, tuple[object, ...]]] = [(data, ())]
    while stack and len(problems) < limit:
        value, path = stack.pop()
        if isinstance(value, bool):
            continue
        if isinstance(value, Oversized):
            problems.append(f"{field_path(path)}: {value!r} is too large (beyond 64 bits)")
        elif isinstance(value, int) and abs(value) > MAX_INT:
            problems.append(f"{field_path(path)}: {Oversized(str(value))!r} does not fit in 64 bits")
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{field_path(path)}: {value} is not a finite number")
        elif isinstance(value, dict):
            stack.extend(reversed([(v, (*path, k)) for k, v in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(v, (*path, i)) for i, v in enumerate(value)]))
    return problems


def read_yaml(path: str | Path, what: str, max_bytes: int = MAX_SPEC_BYTES) -> Any:
    """A YAML document, or a JSON one for a `.json` file (strict JSON: no trailing commas, NaN named)."""
    source = str(path)
    text = read_text(path, what, max_bytes)
    if source.endswith(".json"):
        return parse_json(text, source)
    return parse_yaml(text, source)


def read_json(path: str | Path, what: str, max_bytes: int = MAX_JSON_BYTES) -> Any:
    source = str(path)
    return parse_json(read_text(path, what, max_bytes), source)
