"""Record ids and secret tokens.

Ids are opaque, typed by a short prefix for people reading logs. Secret tokens (sessions,
invites) carry 256 random bits and are stored only as their SHA-256 (R13, R46): a token is
already high-entropy, so a fast hash is enough and lets the store look it up by key.
"""

from __future__ import annotations

import hashlib
import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def fingerprint(value: str) -> str:
    """A stable key for a value we must not store or log in clear (emails, addresses)."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]
