"""Personal data at the edge: resident ID numbers are checked, hashed with a key and never kept.

The engine only ever sees the keyed hash (to refuse a second waiting ticket for the same person);
screens only ever see masked names.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

_ID18 = re.compile(r"^\d{17}[\dX]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PHONE = re.compile(r"^1[3-9]\d{9}$")


class InvalidIdentity(ValueError):
    """A refused ID or phone number; the guide reads the Chinese sentence aloud to the citizen."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message_zh = message_zh


def normalize_id_number(raw: str) -> str:
    """An 18-digit resident ID (GB 11643) with a valid check digit and birth date, upper-cased."""
    value = raw.strip().upper()
    if not _ID18.match(value):
        raise InvalidIdentity("an ID number has 17 digits and a final digit or X",
                              "身份证号应为 18 位：17 位数字加一位数字或 X")
    if _CHECK[sum(int(d) * w for d, w in zip(value[:17], _WEIGHTS, strict=True)) % 11] != value[17]:
        raise InvalidIdentity("the ID number's check digit does not match; please check it again",
                              "身份证号校验位不符，请核对后重新输入")
    birth_date(value)
    return value


def birth_date(id_number: str) -> date:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError as exc:
        raise InvalidIdentity("the ID number does not contain a valid birth date",
                              "身份证号中的出生日期无效") from exc


def age_on(id_number: str, day: date) -> int:
    born = birth_date(id_number)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def person_key(secret: bytes, id_number: str) -> str:
    """A keyed hash: the same person gives the same key, and the key cannot be turned back into the number."""
    return hmac.new(secret, b"person:" + id_number.encode(), hashlib.sha256).hexdigest()[:32]


def normalize_phone(raw: str) -> str:
    value = re.sub(r"[\s-]", "", raw)
    if value.startswith("+86"):
        value = value[3:]
    if not _PHONE.match(value):
        raise InvalidIdentity("a mobile number has 11 digits and starts with 1", "手机号应为以 1 开头的 11 位数字")
    return value


def mask_name(name: str) -> str:
    """张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧**明: screens never show a full name."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# What a person's number looks like anywhere in a line of text: an ID number (15 digits for the old cards,
# 18 now, and longer runs, which are mistyped ones) and a mobile number, bare or +86 and spaced. Bounded by
# anything but a letter or digit, so stream ids (13-digit milliseconds), hashes and ticket ids are left alone.
_ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])\d{14,}[\dXx](?![0-9A-Za-z])")
_MOBILE_SHAPED = re.compile(r"(?<![0-9A-Za-z+])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?![0-9A-Za-z])")


def redact(text: str) -> str:
    """The text with every ID-number-shaped and mobile-number-shaped string masked: what a log may keep of a
    line that might hold one (a ticket id typed as an ID number, a path a citizen's phone mangled)."""
    return _MOBILE_SHAPED.sub("<phone>", _ID_SHAPED.sub("<id-number>", text))
