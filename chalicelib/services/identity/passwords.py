"""Password hashing with Argon2id (R45), through argon2-cffi.

The cost is OWASP's recommended m=19 MiB, t=2, p=1, chosen by measurement (README "Sizing",
scripts/bench_passwords.py): about 35 ms of CPU here, so about 61 ms at the API's 1,024 MB
share of a vCPU. Hashes made with other parameters (RFC 9106's low-memory profile before)
still verify: argon2 reads the parameters from the hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

from chalicelib import config

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@dataclass(frozen=True)
class Cost:
    """Argon2id's parameters: memory in KiB, passes, lanes."""

    memory_kib: int
    passes: int
    lanes: int

    def hasher(self) -> PasswordHasher:
        return _argon2().PasswordHasher(
            memory_cost=self.memory_kib, time_cost=self.passes, parallelism=self.lanes
        )


# OWASP Password Storage Cheat Sheet, Argon2id: 19 MiB of memory, two passes, one lane.
STANDARD = Cost(memory_kib=19456, passes=2, lanes=1)
# Same algorithm and format, a fraction of the cost: for the test suite only.
LOW = Cost(memory_kib=1024, passes=1, lanes=1)


@cache
def _argon2() -> ModuleType:
    # argon2-cffi loads its C library at import: only a request that hashes or verifies a
    # password (sign-in, setting one) pays for it, not every cold start (issue #17).
    import argon2  # noqa: PLC0415
    import argon2.exceptions  # noqa: PLC0415

    return argon2


@cache
def _hasher() -> PasswordHasher:
    low = config.PASSWORD_HASH_COST == "low"  # noqa: S105 (a cost name, not a password)
    return (LOW if low else STANDARD).hasher()


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
    except (_argon2().exceptions.VerificationError, _argon2().exceptions.InvalidHashError):
        return False
