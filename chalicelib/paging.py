"""Cursors for list answers: DynamoDB's LastEvaluatedKey, opaque to clients, checked on return.

A cursor names one partition of one index; one made up or taken from another organization's
list is refused with 400 rather than reaching DynamoDB (R4: it cannot read another partition).

A list drawn from several ordered sources (a client's timeline: invites, emails and audit
events, B10; a search of every status, R55) is paged by `merged`: one Query per source a page,
whatever the lists hold, and a cursor holding each source's own place.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import heapq
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from chalicelib import db
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
    if not _in_list(key, key_names, partition):
        raise bad
    return key


def _in_list(key: Any, key_names: set[str], partition: dict[str, str]) -> bool:
    """Whether `key` is a start key of this list: this index's key names, this partition."""
    if not isinstance(key, dict) or set(key) != key_names:
        return False
    for name, value in key.items():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
            return False
        if name in partition and value["S"] != partition[name]:
            return False
    return True


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


@dataclass(frozen=True)
class Source(Generic[T]):
    """One ordered list a merged page draws from.

    `read(start_key, limit)` runs one Query page from `start_key` (None: the top) and returns
    PynamoDB's result iterator. `key_names` and `partition` say which start keys are this
    list's, as for `decode`."""

    name: str
    read: Callable[[dict | None, int], Any]
    key_names: frozenset[str]
    partition: dict[str, str]


def merged(
    sources: list[Source[T]],
    cursor: str | None,
    limit: int,
    order: Callable[[T], Any],
    *,
    descending: bool = False,
) -> tuple[list[T], str | None]:
    """One page of the sources merged in `order` (each source already in that order): at most
    one Query per source, `limit` items read from each at most.

    The cursor holds each source's place, after its last item on the page; a source whose
    items all made the page and that has no more is left out (done). So no item is skipped or
    shown twice, and pages follow one another in order: a source that read `limit` items has
    no unread one before its last, and the page holds only the first `limit` of all."""
    places = _merged_places(cursor, sources)
    pending = [source for source in sources if source.name in places]

    def read(source: Source[T]) -> tuple[list[T], bool]:
        results = source.read(places[source.name], limit)
        items = list(results)
        return items, results.last_evaluated_key is not None

    # The sources' Queries at once: a page waits for the slowest (issue #17).
    done = db.all_together([functools.partial(read, source) for source in pending])
    reads = {source.name: outcome for source, outcome in zip(pending, done, strict=True)}
    streams = [[(order(item), item) for item in items] for items, _ in done]
    # Ties keep each source's own order, and the sources' order between them.
    merge = heapq.merge(*streams, key=lambda pair: pair[0], reverse=descending)
    shown = [item for _, item in merge][:limit]
    on_page = {id(item) for item in shown}
    after: dict[str, dict | None] = {}
    for source in sources:
        if source.name not in reads:
            continue
        items, more = reads[source.name]
        taken = [item for item in items if id(item) in on_page]
        if len(taken) < len(items) or more:
            after[source.name] = _start_key(taken[-1], source) if taken else places[source.name]
    if not after:
        return shown, None
    raw = json.dumps(
        {"list": _list_of(sources), "after": after}, separators=(",", ":"), sort_keys=True
    ).encode()
    return shown, base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _list_of(sources: list[Source[Any]]) -> str:
    """Which list a merged cursor is of (its sources' partitions), so that one whose places
    are all "from the top" still belongs to one list only."""
    named = sorted((source.name, sorted(source.partition.items())) for source in sources)
    return hashlib.sha256(json.dumps(named).encode()).hexdigest()[:24]


def _start_key(item: Any, source: Source[Any]) -> dict[str, Any]:
    """Where a source goes on after `item`: its key attributes, as DynamoDB's start keys."""
    stored = item.serialize()
    return {name: stored[name] for name in source.key_names}


def _merged_places(cursor: str | None, sources: list[Source[Any]]) -> dict[str, dict | None]:
    """Each source still to read and its start key (None: the top); a cursor not of this list
    is refused with 400, like `decode`'s."""
    if cursor is None:
        return {source.name: None for source in sources}
    bad = field_error("cursor", "This cursor does not belong to this list; start from the top.")
    try:
        taken = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(taken, dict) or taken.get("list") != _list_of(sources):
        raise bad
    places = taken.get("after")
    by_name = {source.name: source for source in sources}
    if not isinstance(places, dict) or not places or not set(places) <= set(by_name):
        raise bad
    for name, key in places.items():
        source = by_name[name]
        if key is not None and not _in_list(key, set(source.key_names), source.partition):
            raise bad
    return places
