"""What the commands that read a spec check first, so a bad file costs one line and exit 2, never a
traceback: the spec, the plan lock beside it, and the model profile against the spec.

Everything here runs before the planner or TensorFlow sees the inputs; the one-line messages name the file
and the field.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NoReturn

import click

from seifer_iac.profile import Profile, codec_problems
from seifer_iac.spec import Spec, SpecError, load_spec
from seifer_iac.spec.documents import DocumentError, read_json

MAX_LOCK_BYTES = 4 * 2**20
# What a lock reader may raise for a document of the wrong shape (a list where a mapping belongs, a
# string where a number belongs): all mean "not a lock" to the user.
LOCK_CONTENT_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def fail_lines(lines: Iterable[str]) -> NoReturn:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(2)


def write_or_exit(path: Path, text: str) -> None:
    """Write through a temporary file beside it, so a reader (the spec loader, CI) never sees half a file;
    a failure is one line and exit 2."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        fail(f"cannot write {path}: {error.strerror or error}")


def spec_or_exit(spec_path: str) -> Spec:
    try:
        return load_spec(spec_path)
    except SpecError as error:
        fail_lines(str(error).splitlines())


def check_lock_file(spec_path: str | Path) -> None:
    """Exit 2 with one line when the plan lock beside the spec is not a readable plan lock (a directory, a
    pipe, a huge or deeply nested file, NaN, a list, a field of the wrong type), before anything reads it."""
    from seifer_iac.planner.lock import LockError, lock_path, read_lock

    path = lock_path(spec_path)
    if not path.exists() and not path.is_symlink():
        return
    fix = "fix it, or delete it and run `seifer plan SPEC --write-lock`"
    try:
        data = read_json(path, "a plan lock (.lock.json)", MAX_LOCK_BYTES)
    except DocumentError as error:
        fail(f"plan lock {error}; {fix}")
    if not isinstance(data, dict):
        fail(f"plan lock {path}: (top level): expected an object, got {type(data).__name__}; {fix}")
    try:
        read_lock(path)
    except LockError as error:  # already one line naming the file, the field and the fix
        fail(str(error))
    except LOCK_CONTENT_ERRORS as error:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        if isinstance(error, KeyError):
            text = f"missing field {error}"
        if str(path) not in text:
            text = f"{path}: not a valid plan lock ({text})"
        fail(f"plan lock {text}; {fix}")


def profile_or_exit(spec: Spec, spec_path: str, progress: Callable[[str], None]) -> Profile:
    """The spec's model profile (cached, or profiled with TensorFlow), checked against the spec's codec."""
    from seifer_iac.model import ModelError, profile_for_source

    try:
        profile = profile_for_source(spec.model, progress)
    except ModelError as error:
        fail(f"{spec_path}: {error}")
    problems = codec_problems(profile, spec.runtime.codec)
    if problems:
        fail_lines(f"{spec_path}: {problem}" for problem in problems)
    return profile


def preflight(spec_path: str, progress: Callable[[str], None]) -> tuple[Spec, Profile]:
    """Spec, plan lock, profile: each checked, in the order a user would fix them."""
    spec = spec_or_exit(spec_path)
    check_lock_file(spec_path)
    return spec, profile_or_exit(spec, spec_path, progress)
