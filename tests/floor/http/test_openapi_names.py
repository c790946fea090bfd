"""The OpenAPI document names components by class: two models of one name must not silently share a schema."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from floor.http.openapi import _schema


def _model(fields: dict[str, Any]) -> type[BaseModel]:
    return type("RatingOut", (BaseModel,), {"__annotations__": fields})


def test_two_different_models_of_one_name_are_refused() -> None:
    components: dict[str, Any] = {}
    _schema(_model({"score": int, "at": str}), components)
    with pytest.raises(ValueError, match="both named RatingOut"):
        _schema(_model({"ticket": str, "score": int}), components)


def test_the_same_model_may_be_documented_twice() -> None:
    components: dict[str, Any] = {}
    model = _model({"score": int})
    assert _schema(model, components) == _schema(model, components) == {"$ref": "#/components/schemas/RatingOut"}
