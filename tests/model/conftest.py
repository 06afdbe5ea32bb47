"""Shared fixtures: every big architecture is built once per session (they take seconds each)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def application() -> Callable[[str], Any]:
    """application(name) -> the keras.applications model built with weights=None, seed 0 (memoised)."""
    from seifer_iac.model.load import build_application

    built: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in built:
            built[name] = build_application(name, seed=0)
        return built[name]

    return get


@pytest.fixture(scope="session")
def graph_of() -> Callable[[Any], Any]:
    """graph_of(model) -> its layer DAG (memoised by model identity)."""
    from seifer_iac.model.graph import layer_graph

    graphs: dict[int, Any] = {}

    def get(model: Any) -> Any:
        if id(model) not in graphs:
            graphs[id(model)] = (model, layer_graph(model))
        return graphs[id(model)][1]

    return get


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's ~/.cache: every test session profiles into its own directory."""
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "seifer-cache"))


def random_input(model: Any, seed: int = 0) -> np.ndarray:
    shape = (1, *(int(d) for d in model.inputs[0].shape[1:]))
    return np.random.default_rng(seed).random(shape, dtype=np.float32)
