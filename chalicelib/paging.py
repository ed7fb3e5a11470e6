"""Cursors for list answers: DynamoDB's LastEvaluatedKey, opaque to clients, checked on return.

A cursor names one partition of one index; one made up or taken from another organization's
list is refused with 400 rather than reaching DynamoDB (R4: it cannot read another partition).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from chalicelib.errors import field_error

T = TypeVar("T")


def encode(last_evaluated_key: dict[str, Any] | None) -> str | None:
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, key_names: set[str], partition: dict[str, str]) -> dict | None:
    """The start key a cursor carries, if it is one of this list's: its key names are this
    index's and its partition values are this list's."""
    if cursor is None:
        return None
    bad = field_error("cursor", "This cursor does not belong to this list; start from the top.")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(key, dict) or set(key) != key_names:
        raise bad
    for name, value in key.items():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
            raise bad
        if name in partition and value["S"] != partition[name]:
            raise bad
    return key


def page(
    query: Callable[[dict | None], Any],
    start: dict | None,
    convert: Callable[[Any], T] | None = None,
) -> tuple[list[T], str | None]:
    """Run one paged query (`query(start_key)` returns PynamoDB's result iterator)."""
    results = query(start)
    items: Iterable[Any] = list(results)
    if convert:
        items = [convert(item) for item in items]
    return list(items), encode(results.last_evaluated_key)
