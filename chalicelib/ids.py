"""Record ids and secret tokens.

Ids are opaque, typed by a short prefix for people reading logs. Secret tokens (sessions,
invites) carry 256 random bits and are stored only as their SHA-256 (R13, R46): a token is
already high-entropy, so a fast hash is enough and lets the store look it up by key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from chalicelib import secret_store


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def code_hash(subject: str, code: str) -> str:
    """How a short code (a 6-digit passcode, R22) is stored: an HMAC with a key derived from the
    stage's page secret, salted with its subject. A million codes are too few for a plain hash:
    whoever read the table could try them all; without the key they test none (R53)."""
    key = b"portico-code:" + secret_store.page_secret().encode()
    return hmac.new(key, f"{subject}:{code}".encode(), hashlib.sha256).hexdigest()


def fingerprint(value: str) -> str:
    """A stable short key for a value whose clear form is stored beside it anyway (an import
    row's names and date, kept on the profile); emails and addresses that must not be
    recoverable from a key take `keyed_fingerprint`."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def keyed_fingerprint(value: str) -> str:
    """A stable key for an email or source address (throttle counters, R45): an HMAC with a
    key derived from the stage's page secret (secret_store, SSM outside the local stage), so
    that whoever reads the table cannot test a guessed address against it."""
    key = b"portico-fingerprint:" + secret_store.page_secret().encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]
