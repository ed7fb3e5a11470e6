"""Password hashing with Argon2id (R45), through argon2-cffi."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from chalicelib import config


@cache
def _hasher() -> PasswordHasher:
    if config.PASSWORD_HASH_COST == "low":  # noqa: S105 (a cost name, not a password)
        # Same algorithm and format, a fraction of the cost: for the test suite only.
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


@cache
def _decoy_hash() -> str:
    """Verified against when an email has no password, so that both cases cost the same."""
    return _hasher().hash("portico-decoy-password")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """True if the password matches; always spends one Argon2 verification (R45 timing)."""
    try:
        return _hasher().verify(password_hash or _decoy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
