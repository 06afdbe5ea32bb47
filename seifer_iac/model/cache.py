"""Profiles cached on disk, and `profile_for_source`: what `seifer plan` calls for a spec's model.

Building a large application model takes seconds; the planner runs often. Profiles of applications are
cached by (name, input shape, seed, keras version), the inputs that fully determine the built model, so a
repeated `seifer plan` never imports TensorFlow's model code. Model files are cached by the sha256 of the
file's bytes. Every cached profile is also stored under its model hash (`by-hash/`). The directory is
`$SEIFER_CACHE_DIR/profiles` or `~/.cache/seifer/profiles`; a damaged cache entry is recomputed.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from seifer_iac.model.errors import ModelError
from seifer_iac.profile import Profile, ProfileError, load_profile, profile_from_dict
from seifer_iac.spec.documents import DocumentError, check_regular_file, read_json
from seifer_iac.spec.model import ModelSource

Progress = Callable[[str], None]

# Bump when the profiler's figures change meaning (FLOP conventions, block rules): old cache entries then
# simply stop matching.
PROFILER_REVISION = 1
MAX_MODEL_FILE_BYTES = 16 * 2**30
MAX_MODEL_UNPACKED_BYTES = 8 * 2**30
MAX_ARCHIVE_MEMBERS = 10_000


def cache_dir() -> Path:
    root = os.environ.get("SEIFER_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "seifer"
    return base / "profiles"


def _read(path: Path) -> Profile | None:
    if not path.exists():
        return None
    try:
        return profile_from_dict(read_json(path, "a cached profile"), source=str(path))
    except ValueError:  # a damaged entry (DocumentError, ProfileError) is recomputed
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
    if not path.exists():
        raise ModelError(f"model file {str(path)!r} does not exist")
    try:  # a named pipe would block the hash forever, a device never end
        check_regular_file(path, "a Keras model file (.keras)", MAX_MODEL_FILE_BYTES)
        key = f"file-{_file_sha256(path)}-r{PROFILER_REVISION}"
    except (DocumentError, OSError) as error:
        raise ModelError(f"model file {error}") from None
    if path.suffix == ".keras":
        check_keras_archive(path)
    cached = _read(cache_dir() / f"{key}.json")
    if cached is not None:
        return cached
    progress(f"loading {path}")
    profile = _profile_built(read_model_file(path), path.stem, progress)
    _remember(key, profile)
    return profile


def check_keras_archive(path: Path) -> None:
    """A `.keras` file is a zip archive: refuse anything else, and an archive that would unpack to more
    than MAX_MODEL_UNPACKED_BYTES (a zip bomb), before Keras opens it."""
    if not zipfile.is_zipfile(path):
        raise ModelError(
            f"model file {path}: not a Keras .keras file (those are zip archives); save one with model.save()"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ModelError(f"model file {path}: a damaged zip archive ({error})") from None
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_MODEL_UNPACKED_BYTES or len(members) > MAX_ARCHIVE_MEMBERS:
        raise ModelError(
            f"model file {path}: unpacks to {unpacked:,} bytes in {len(members):,} files; at most "
            f"{MAX_MODEL_UNPACKED_BYTES:,} bytes in {MAX_ARCHIVE_MEMBERS:,} files"
        )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_profile_file(path: str | Path) -> Profile:
    """A profile JSON file; ModelError naming the file (and the field) when it is missing or not a profile."""
    if not Path(path).exists():
        raise ModelError(f"profile file {str(path)!r} does not exist")
    try:
        return load_profile(path)
    except ProfileError as error:
        raise ModelError(
            f"profile file {error.source} is not a valid profile: " + str(error)[len(error.source) + 2 :]
        ) from None
    except DocumentError as error:
        raise ModelError(f"profile file {error}") from None


def check_input_shape(source: ModelSource, profile: Profile) -> None:
    """model.inputShape (without the batch axis) must be the profile's input shape: a spec that says one
    shape and a profile or model file of another would plan for one tensor and run another."""
    if source.input_shape is None or tuple(profile.input_shape[1:]) == tuple(source.input_shape):
        return
    origin = f"the profile {source.profile}" if source.profile else f"the model file {source.file}"
    raise ModelError(
        f"model.inputShape: {list(source.input_shape)} disagrees with {origin}, whose input is "
        f"{list(profile.input_shape[1:])} (without the batch axis); fix model.inputShape or remove it"
    )


def profile_for_source(source: ModelSource, progress: Progress = lambda _: None) -> Profile:
    """The profile of a spec's model: an application name, a `.keras` file, or a profile JSON file."""
    if source.profile:
        profile = read_profile_file(source.profile)
    elif source.file:
        profile = profile_file(source.file, progress)
    elif source.application:
        return profile_application(source.application, source.input_shape, source.seed, progress)
    else:
        raise ModelError("model source names no application, file or profile")
    check_input_shape(source, profile)
    return profile
