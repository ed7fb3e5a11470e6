"""Atomic writes: one TransactWriteItems whose failed conditions become product errors.

A service assembles everything one change writes (the record, its unique claims, its audit
event, its email jobs) into one `Tx`, so a request never leaves a half-written record. Each
write may say which error its condition means when it fails, in the product's words
(`on_conflict`). What must wait for the commit (sending the email jobs to the queue) is
collected on the Tx and runs once the commit succeeded, never before or without it.

`run` is the unit of work around it: build the change from fresh reads, commit it once, and
start over once when another request took a claim meanwhile.

A model with a `VersionAttribute` (optimistic locking, DESIGN "Data") gets PynamoDB's version
condition on every save, update and delete, here and inside the transaction alike: a write whose
read is stale fails like any other condition, as its `on_conflict` or else as 409
`concurrent_change`. An item stored before its model had a version has none, and is written as
if it had never been (the condition is then that it still has none).
"""

from __future__ import annotations

import contextvars
import itertools
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, TypeVar, overload

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import aws, config
from chalicelib.errors import Conflict, PorticoError, Throttled

ErrorFactory = Callable[[], PorticoError]


@cache
def connection() -> Connection:
    """One low-level connection for transactions, built on first use (cold starts stay short)."""
    return Connection(region=config.REGION, host=config.AWS_ENDPOINT_URL, max_retry_attempts=3)


@dataclass(frozen=True)
class _Write:
    order: int  # PynamoDB sends condition checks, deletes, puts, then updates
    in_transaction: Callable[[TransactWrite], None]
    alone: Callable[[], object] | None  # the same write as one conditional call; None: a check
    on_conflict: ErrorFactory | None


def _changed_meanwhile() -> Conflict:
    return Conflict(
        "This record was changed by someone else at the same time; reload it and try again.",
        code="concurrent_change",
    )


@dataclass
class Tx:
    """Writes to commit together, all or nothing.

    Several writes go as one TransactWriteItems; a single write goes as the plain conditional
    PutItem, UpdateItem or DeleteItem it is, which is atomic by itself and costs half."""

    _writes: list[_Write] = field(default_factory=list)
    # After the commit: each key's hook gets the values collected under it, once.
    _after_commit: dict[str, tuple[Callable[[list[Any]], None], list[Any]]] = field(
        default_factory=dict
    )

    def after_commit(self, key: str, hook: Callable[[list[Any]], None], value: Any) -> None:
        """Hand `value` to `hook` once this change is committed, with every other value
        collected under `key` (one call a key: the email jobs of a change go in one batch)."""
        self._after_commit.setdefault(key, (hook, []))[1].append(value)

    def check(
        self,
        model_cls: type[Model],
        hash_key: str,
        range_key: str | None,
        condition: Condition,
        on_conflict: ErrorFactory,
    ) -> None:
        self._writes.append(
            _Write(
                0,
                lambda tw: tw.condition_check(model_cls, hash_key, range_key, condition),
                None,
                on_conflict,
            )
        )

    def delete(
        self,
        model: Model,
        condition: Condition | None = None,
        on_conflict: ErrorFactory | None = None,
    ) -> None:
        self._writes.append(
            _Write(
                1,
                lambda tw: tw.delete(model, condition),
                lambda: model.delete(condition=condition),
                on_conflict,
            )
        )

    def save(
        self,
        model: Model,
        condition: Condition | None = None,
        on_conflict: ErrorFactory | None = None,
    ) -> None:
        before_save = getattr(model, "before_save", None)
        if before_save:
            before_save()
        self._writes.append(
            _Write(
                2,
                lambda tw: tw.save(model, condition),
                lambda: model.save(condition=condition),
                on_conflict,
            )
        )

    def update(
        self,
        model: Model,
        actions: Sequence[Action],
        condition: Condition | None = None,
        on_conflict: ErrorFactory | None = None,
        *,
        add_version_condition: bool = True,
    ) -> None:
        """`add_version_condition=False`: a versioned item's version still moves (so a stale
        whole-item save cannot write this change back over), but this update does not need the
        item unchanged since it was read: for a counter whose own condition is the rule."""
        listed = list(actions)
        # PynamoDB appends the version's action to the list it is given: each attempt gets its
        # own copy, or a retried transaction would send that action twice (a ValidationError).
        self._writes.append(
            _Write(
                3,
                lambda tw: tw.update(
                    model, list(listed), condition, add_version_condition=add_version_condition
                ),
                lambda: model.update(
                    actions=list(listed),
                    condition=condition,
                    add_version_condition=add_version_condition,
                ),
                on_conflict,
            )
        )

    def commit(self, attempts: int = 5) -> None:
        """Write all or nothing. A failed condition raises its `on_conflict` error; a clash with
        another transaction in flight (DynamoDB's TransactionConflict, when many requests touch
        one item, e.g. one identity) is retried with exponential backoff and jitter, then
        answered 409."""
        self._write(attempts)
        for hook, values in self._after_commit.values():
            hook(values)

    def _write(self, attempts: int) -> None:
        writes = sorted(self._writes, key=lambda write: write.order)  # stable: keeps our order
        if len(writes) == 1 and writes[0].alone is not None:
            _commit_alone(writes[0])
            return
        for attempt in range(attempts):
            try:
                with TransactWrite(connection=connection()) as tw:
                    for write in writes:
                        write.in_transaction(tw)
                return
            except TransactWriteError as exc:
                reasons = _reason_codes(exc)
                for write, code in zip(writes, reasons, strict=False):
                    if code == "ConditionalCheckFailed":
                        raise (write.on_conflict or _changed_meanwhile)() from exc
                if "TransactionConflict" not in reasons or attempt == attempts - 1:
                    if "TransactionConflict" in reasons:
                        raise Conflict(
                            "Another change to the same records is in progress; try again.",
                            code="concurrent_change",
                        ) from exc
                    raise
                time.sleep(random.uniform(0.01, 0.03) * 2**attempt)  # noqa: S311 (jitter, not a secret)


def _commit_alone(write: _Write) -> None:
    assert write.alone is not None
    try:
        write.alone()
    except (PutError, UpdateError, DeleteError) as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise (write.on_conflict or _changed_meanwhile)() from exc
        raise


def _reason_codes(exc: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in exc.cancellation_reasons]


M = TypeVar("M", bound=Model)
T = TypeVar("T")


def run(
    work: Callable[[Tx], T],
    *,
    retry_on: type[PorticoError] | tuple[type[PorticoError], ...] = (),
) -> T:
    """One unit of work: `work` builds a change in a fresh Tx (reading what it needs), the Tx
    commits once, and what waits on the commit runs. A `retry_on` error (a claim another
    request took between our read and our write) starts the work over once, from fresh reads;
    a second one is the caller's answer."""
    for attempt in range(2):
        tx = Tx()
        try:
            result = work(tx)
            tx.commit()
        except retry_on:
            if attempt:
                raise
            continue
        return result
    raise AssertionError("unreachable")  # the loop returns or raises


def get(model_cls: type[M], hash_key: str, range_key: str | None = None) -> M | None:
    """One strongly consistent GetItem, or None when the item does not exist."""
    try:
        return model_cls.get(hash_key, range_key, consistent_read=True)
    except model_cls.DoesNotExist:
        return None


@dataclass(frozen=True)
class Updated(Generic[M]):
    """What `update_answering` did: `written`, and the item as written (when asked for), or
    as it stood when the condition failed (None: there was no such item)."""

    written: bool
    item: M | None


def update_answering(
    model: M, actions: Sequence[Action], condition: Condition, *, answer: bool = True
) -> Updated[M]:
    """One conditional UpdateItem that answers the item either way, so a caller that must know
    why its condition failed (the email worker's claim, R41) reads nothing before it: the item
    as written (`answer`) or, on a failed condition, as it stood (ReturnValuesOnConditionCheck-
    Failure, which PynamoDB does not offer). For models without a version only (no version
    condition is added). `answer=False`: nothing is read back nor parsed."""
    model_cls = type(model)
    assert model_cls._version_attribute_name is None, "a versioned model goes through Tx"
    table = model_cls._get_connection()
    hash_key, range_key = model._get_hash_range_key_serialized_values()
    request = table.connection.get_operation_kwargs(
        table.table_name,
        hash_key,
        range_key=range_key,
        actions=list(actions),
        condition=condition,
        return_values="ALL_NEW" if answer else "NONE",
        return_values_on_condition_failure="ALL_OLD",
    )
    try:
        written = aws.client("dynamodb").update_item(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        before = exc.response.get("Item")
        return Updated(False, model_cls.from_raw_data(before) if before else None)
    return Updated(True, model_cls.from_raw_data(written["Attributes"]) if answer else None)


Key = tuple[type[Model], str, str | None]
# Rounds of asking again for keys a BatchGetItem left unprocessed, before answering 429.
UNPROCESSED_ROUNDS = 5


class Found:
    """What `get_together` read, looked up by model and key; None for an item not there."""

    def __init__(self, items: dict[Key, Model]) -> None:
        self._items = items

    def of(self, model_cls: type[M], hash_key: str, range_key: str | None = None) -> M | None:
        found = self._items.get((model_cls, hash_key, range_key))
        return found if isinstance(found, model_cls) else None


def get_together(keys: Sequence[Key]) -> Found:
    """Strongly consistent reads of items of any tables, in one BatchGetItem per 100 keys
    (DynamoDB's limit; keys it left unprocessed are asked again): reads that do not depend on
    each other cost one round trip, not one each (DESIGN "Data"). Keys are strings, as every
    Portico table's are; models sharing a table (an organization, its groups and providers)
    are told apart by the key asked for."""
    wanted: dict[tuple[str, tuple[str, ...]], Key] = {}
    for key in keys:
        model_cls, hash_key, range_key = key
        values: tuple[str, ...] = (hash_key,) if range_key is None else (hash_key, range_key)
        wanted[(model_cls.Meta.table_name, values)] = key
    found: dict[Key, Model] = {}
    asked = list(wanted.items())
    for start in range(0, len(asked), 100):
        request: dict[str, Any] = {}
        for (table, values), (model_cls, _, _) in asked[start : start + 100]:
            entry = request.setdefault(table, {"Keys": [], "ConsistentRead": True})
            names = _key_names(model_cls)
            entry["Keys"].append({n: {"S": v} for n, v in zip(names, values, strict=True)})
        for attempt in range(UNPROCESSED_ROUNDS + 1):
            if attempt:  # DynamoDB left keys unprocessed (throttled): back off, then ask again
                time.sleep(random.uniform(0.01, 0.03) * 2**attempt)  # noqa: S311 (jitter)
            answer = aws.client("dynamodb").batch_get_item(RequestItems=request)
            for table, items in answer["Responses"].items():
                for item in items:
                    some = next(k for (t, _), k in wanted.items() if t == table)
                    key = wanted[(table, tuple(item[n]["S"] for n in _key_names(some[0])))]
                    found[key] = key[0].from_raw_data(item)
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise Throttled("Portico is busy right now; try again in a moment.", retry_after=1)
    return Found(found)


def _key_names(model_cls: type[Model]) -> tuple[str, ...]:
    range_attribute = model_cls._range_key_attribute()
    hash_name = model_cls._hash_key_attribute().attr_name
    return (hash_name, range_attribute.attr_name) if range_attribute else (hash_name,)


A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")


# Which read of which `together` call this thread is running, for the benchmark's count of
# sequential round trips (scripts/bench.py): calls of one call's reads cost one wait.
_lane: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "portico_read_lane", default=None
)
_waves = itertools.count()


def lane() -> tuple[int, int] | None:
    """(which `together` call, which of its reads) the current thread runs, or None."""
    return _lane.get()


@cache
def _threads() -> ThreadPoolExecutor:
    """A few threads for reads issued together, kept for the life of the process (a Lambda
    container's), so a request does not pay for starting them."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="portico-read")


def _in_lane(where: tuple[int, int], read: Callable[[], A]) -> A:
    _lane.set(where)
    return read()


@overload
def together(a: Callable[[], A], b: Callable[[], B], /) -> tuple[A, B]: ...
@overload
def together(a: Callable[[], A], b: Callable[[], B], c: Callable[[], C], /) -> tuple[A, B, C]: ...
def together(*reads: Callable[[], Any]) -> tuple[Any, ...]:
    """Reads that do not depend on each other (Queries, which no batch call takes), issued at
    once: `all_together` for two or three of different types."""
    return tuple(all_together(reads))


def all_together(reads: Sequence[Callable[[], T]]) -> list[T]:
    """Reads that do not depend on each other, issued at once: the caller waits for the
    slowest, not for their sum (issue #17). They share the models' botocore clients, which are
    thread-safe; the first runs on the caller's thread. Each runs in a copy of the caller's
    context (its log keys)."""
    if not reads:
        return []
    wave = next(_waves)
    later = [
        _threads().submit(contextvars.copy_context().run, _in_lane, (wave, n), read)
        for n, read in enumerate(reads[1:], start=1)
    ]
    first = contextvars.copy_context().run(_in_lane, (wave, 0), reads[0])
    return [first, *(future.result() for future in later)]
