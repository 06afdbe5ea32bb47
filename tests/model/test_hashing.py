"""The model hash identifies architecture and weights, not the process that built them."""

from __future__ import annotations

from seifer_iac.model.hashing import model_hash

from .small_models import small_model


def test_same_seed_same_hash_other_seed_other_hash() -> None:
    assert model_hash(small_model(0)) == model_hash(small_model(0))
    assert model_hash(small_model(0)) != model_hash(small_model(1))


def test_changed_weight_changes_the_hash() -> None:
    model = small_model(0)
    before = model_hash(model)
    weights = model.get_weights()
    weights[-1] = weights[-1] + 1.0
    model.set_weights(weights)
    assert model_hash(model) != before
