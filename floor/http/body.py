"""The base of every request body: unknown fields refused, text stripped, and no control characters in any text."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import ErrorDetails

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


# pydantic's own checks (a field's type, range or length), by their error type, in Chinese: the English is pydantic's.
_PROBLEMS_ZH: dict[str, str] = {
    "missing": "缺少必填项",
    "extra_forbidden": "不认识的字段，请检查拼写或删除",
    "greater_than": "须大于 {gt}",
    "greater_than_equal": "须不小于 {ge}",
    "less_than": "须小于 {lt}",
    "less_than_equal": "须不大于 {le}",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "不能超过 {max_length} 个字符",
    "too_short": "至少 {min_length} 项",
    "too_long": "不能超过 {max_length} 项",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_from_float": "须为整数",
    "float_parsing": "须为数字",
    "bool_type": "须为 true 或 false",
    "bool_parsing": "须为 true 或 false",
    "string_type": "须为文字",
    "list_type": "须为列表",
    "tuple_type": "须为列表",
    "dict_type": "须为对象",
    "model_type": "须为对象",
    "date_from_datetime_parsing": "日期格式有误，如 2027-01-01",
    "date_parsing": "日期格式有误，如 2027-01-01",
    "date_type": "日期格式有误，如 2027-01-01",
    "time_parsing": "时间格式有误，如 08:30",
    "time_type": "时间格式有误，如 08:30",
    "literal_error": "须为以下之一：{expected}",
    "enum": "须为以下之一：{expected}",
    "string_pattern_mismatch": "格式有误",
    "json_invalid": "不是有效的 JSON",
}


def problem_zh(error: ErrorDetails) -> str:
    """One validation error in Chinese: a check that says it in both languages (``queue_engine.config.Invalid`` and
    its kind) in its own words, pydantic's own by their type."""
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    zh = getattr(ctx.get("error"), "zh", None)
    if isinstance(zh, str):
        return zh
    template = _PROBLEMS_ZH.get(error["type"])
    if template is None:
        return f"取值有误（{error['msg'].removeprefix('Value error, ')}）"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template.split("{")[0].rstrip("：: ") or "取值有误"


def problem_en(error: ErrorDetails) -> str:
    return error["msg"].removeprefix("Value error, ")
