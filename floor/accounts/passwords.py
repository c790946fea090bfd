"""Password hashing with argon2id (argon2-cffi, the reference implementation's binding): never home-made.
Hashing takes ~0.1 s of CPU by design, so callers run it in a thread, off the event loop."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # the library's defaults (RFC 9106 low-memory profile), upgraded by needs_rehash

@cache
def _dummy() -> str:
    """A hash to check against when the account does not exist, so a wrong username takes as long as a wrong
    password. Made on first use: a worker that imports this module does not pay a hash before it serves."""
    return _HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
