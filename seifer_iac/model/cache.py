"""Profiles cached on disk, and `profile_for_source`: what `seifer plan` calls for a spec's model.

Building a large application model takes seconds; the planner runs often. Profiles of applications are
cached by (name, input shape, seed, keras version), the inputs that fully determine the built model, so a
repeated `seifer plan` never imports TensorFlow's model code. Model files are cached by the sha256 of the
file's bytes. Every cached profile is also stored under its model hash (`by-hash/`). The directory is
`$SEIFER_CACHE_DIR/profiles` or `~/.cache/seifer/profiles`; a damaged cache entry is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from seifer_iac.model.errors import ModelError
from seifer_iac.profile import Profile, load_profile, profile_from_dict
from seifer_iac.spec.model import ModelSource

Progress = Callable[[str], None]

# Bump when the profiler's figures change meaning (FLOP conventions, block rules): old cache entries then
# simply stop matching.
PROFILER_REVISION = 1


def cache_dir() -> Path:
    root = os.environ.get("SEIFER_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "seifer"
    return base / "profiles"


def _read(path: Path) -> Profile | None:
    try:
        return profile_from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, profile: Profile) -> None:
    """Write atomically (rename), so concurrent planners never read half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(profile.to_json())
        temporary.replace(path)
    except OSError:
        pass  # a read-only cache only costs time


def application_key(name: str, input_shape: tuple[int, ...], seed: int, keras_version: str) -> str:
    shape = "x".join(str(d) for d in input_shape)
    return f"app-{name}-{shape}-seed{seed}-keras{keras_version}-r{PROFILER_REVISION}"


def cached_by_hash(model_hash: str) -> Profile | None:
    return _read(cache_dir() / "by-hash" / f"{model_hash}-r{PROFILER_REVISION}.json")


def _remember(key: str, profile: Profile) -> None:
    _write(cache_dir() / f"{key}.json", profile)
    _write(cache_dir() / "by-hash" / f"{profile.model_hash}-r{PROFILER_REVISION}.json", profile)


def _profile_built(model: object, name: str, progress: Progress) -> Profile:
    from seifer_iac.model.hashing import model_hash
    from seifer_iac.model.profiler import profile_model

    digest = model_hash(model)
    cached = cached_by_hash(digest)
    if cached is not None:
        return replace(cached, model_name=name)
    progress(f"profiling {name}")
    return profile_model(model, name, digest)


def profile_application(
    name: str, input_shape: tuple[int, ...] | None = None, seed: int = 0, progress: Progress = lambda _: None
) -> Profile:
    from seifer_iac.model.load import build_application, check_application_name, default_input_shape

    shape = tuple(input_shape) if input_shape else default_input_shape(name)
    key = application_key(name, shape, seed, metadata.version("keras"))
    cached = _read(cache_dir() / f"{key}.json")
    if cached is not None:
        return cached
    check_application_name(name)
    progress(f"building {name} {shape} (weights=None, seed {seed})")
    profile = _profile_built(build_application(name, shape, seed), name, progress)
    _remember(key, profile)
    return profile


def profile_file(path: str | Path, progress: Progress = lambda _: None) -> Profile:
    from seifer_iac.model.load import read_model_file

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {str(path)!r} does not exist")
    key = f"file-{hashlib.sha256(path.read_bytes()).hexdigest()}-r{PROFILER_REVISION}"
    cached = _read(cache_dir() / f"{key}.json")
    if cached is not None:
        return cached
    progress(f"loading {path}")
    profile = _profile_built(read_model_file(path), path.stem, progress)
    _remember(key, profile)
    return profile


def read_profile_file(path: str | Path) -> Profile:
    try:
        return load_profile(path)
    except FileNotFoundError as error:
        raise ModelError(f"profile file {str(path)!r} does not exist") from error
    except (ValueError, KeyError, TypeError) as error:
        raise ModelError(f"profile file {str(path)!r} is not a valid profile: {error}") from error


def profile_for_source(source: ModelSource, progress: Progress = lambda _: None) -> Profile:
    """The profile of a spec's model: an application name, a `.keras` file, or a profile JSON file."""
    if source.profile:
        return read_profile_file(source.profile)
    if source.file:
        return profile_file(source.file, progress)
    if source.application:
        return profile_application(source.application, source.input_shape, source.seed, progress)
    raise ModelError("model source names no application, file or profile")
