"""profile_for_source and the on-disk profile cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from seifer_iac.model import load
from seifer_iac.model.cache import PROFILER_REVISION, cache_dir, profile_for_source
from seifer_iac.model.errors import ModelError
from seifer_iac.spec.model import ModelSource

from .small_models import small_model


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path / "profiles"
    monkeypatch.delenv("SEIFER_CACHE_DIR")
    assert cache_dir() == Path.home() / ".cache" / "seifer" / "profiles"


def test_application_profile_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path))
    source = ModelSource(application="MobileNetV2", input_shape=(96, 96, 3), seed=3)
    first = profile_for_source(source)
    assert first.input_shape == (1, 96, 96, 3) and len(first.blocks) == 75

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the cached profile should have been used")

    monkeypatch.setattr(load, "build_application", refuse)
    assert profile_for_source(source) == first
    assert (tmp_path / "profiles" / "by-hash" / f"{first.model_hash}-r{PROFILER_REVISION}.json").is_file()


def test_file_and_profile_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "small.keras"
    small_model().save(path)
    profile = profile_for_source(ModelSource(file=str(path)))
    assert profile.model_name == "small" and len(profile.blocks) == 9
    assert profile_for_source(ModelSource(file=str(path))) == profile
    json_path = tmp_path / "small.json"
    json_path.write_text(profile.to_json())
    assert profile_for_source(ModelSource(profile=str(json_path))) == profile


def test_damaged_cache_entry_is_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path))
    path = tmp_path / "small.keras"
    small_model().save(path)
    good = profile_for_source(ModelSource(file=str(path)))
    for entry in (tmp_path / "profiles").glob("file-*.json"):
        entry.write_text("{broken")
    assert profile_for_source(ModelSource(file=str(path))) == good


def test_missing_sources(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        profile_for_source(ModelSource(profile=str(tmp_path / "nope.json")))
    with pytest.raises(ModelError, match="does not exist"):
        profile_for_source(ModelSource(file=str(tmp_path / "nope.keras")))
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "seifer.profile/v1"}')
    with pytest.raises(ModelError, match="not a valid profile"):
        profile_for_source(ModelSource(profile=str(bad)))
    with pytest.raises(ModelError):
        profile_for_source(ModelSource())


def test_a_keras_file_that_is_no_zip_or_a_zip_bomb_is_refused_before_keras(
    tmp_path: Path, monkeypatch
) -> None:
    import zipfile

    from seifer_iac.model import cache

    not_zip = tmp_path / "a.keras"
    not_zip.write_text("hello")
    with pytest.raises(ModelError, match=r"not a Keras \.keras file"):
        profile_for_source(ModelSource(file=str(not_zip)))
    monkeypatch.setattr(cache, "MAX_MODEL_UNPACKED_BYTES", 2**20)  # the same rule at a testable scale
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.weights.h5", bytes(2**21))  # 2 MiB of zeros: 2 KiB on disk
    assert bomb.stat().st_size < 2**16
    with pytest.raises(ModelError, match="unpacks to 2,097,152 bytes"):
        profile_for_source(ModelSource(file=str(bomb)))
