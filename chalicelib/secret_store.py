"""The deployment's secrets, read from SSM Parameter Store on first use and kept a while.

Outside the local stage no secret is in the environment (issue #16): `config.SECRET_PARAMETERS`
names the SecureString parameters, and a function reads one only when a request needs it, so a
cold start that serves no landing page never calls SSM. A read value is kept for
`config.SECRET_CACHE_SECONDS` (one GetParameter per warm function per period), so a rotated
parameter is in use everywhere by then. The local stage has fixed secrets (config.LOCAL_SECRETS).
"""

from __future__ import annotations

import threading
import time

from chalicelib import aws, config

_lock = threading.Lock()
_cache: dict[str, tuple[float, str]] = {}


def value(name: str) -> str:
    """The secret `name` (a key of config.SECRET_PARAMETERS)."""
    if config.is_local():
        return config.LOCAL_SECRETS[name]
    now = time.monotonic()
    with _lock:  # one read per expiry, even when the import's threads ask together
        cached = _cache.get(name)
        if cached and now - cached[0] < config.SECRET_CACHE_SECONDS:
            return cached[1]
        answer = aws.client("ssm").get_parameter(
            Name=config.SECRET_PARAMETERS[name], WithDecryption=True
        )
        secret = str(answer["Parameter"]["Value"])
        _cache[name] = (now, secret)
        return secret


def page_secret() -> str:
    """Signs the landing pages' CSRF tokens (API.md "HTML pages")."""
    return value("page")


def forget() -> None:
    """Drop what was read (tests; a function never needs to)."""
    with _lock:
        _cache.clear()
