"""The base of every request body: unknown fields refused, text stripped, and no control characters in any text."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        # Every text here ends up on one line of a screen and in the SQL record, and PostgreSQL refuses NUL:
        # one such reason would stop the hall's archive, so it is refused at the door.
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and _CONTROL.search(text) for text in texts):
            raise ValueError("must not contain control characters (NUL, line breaks, tabs)")
        return value
