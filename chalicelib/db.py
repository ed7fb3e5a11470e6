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
import json
import random
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Generic, TypeVar, cast, overload

from botocore.exceptions import ClientError
from pynamodb.attributes import (
    Attribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.constants import NULL
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Value
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import aws, config
from chalicelib.errors import Conflict, PorticoError, busy

ErrorFactory = Callable[[], PorticoError]


@cache
def _transactions() -> Connection:
    return Connection(region=config.REGION, host=config.AWS_ENDPOINT_URL)


def connection() -> Connection:
    """The low-level connection transactions go through, on the models' one client (aws.py)."""
    transactions = _transactions()
    transactions._client = aws.client("dynamodb")  # the current one, after aws.reset too
    return transactions


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
        _forget_ahead()  # what the request read ahead may change now: it reads afresh after
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
    """One strongly consistent GetItem, or None when the item does not exist; an item the
    request read ahead (`read_ahead`) is answered from that read."""
    ahead = _ahead.get()
    key = (model_cls, hash_key, range_key)
    if ahead is not None and key in ahead:
        kept = ahead[key]
        return kept if isinstance(kept, model_cls) else None
    try:
        return model_cls.get(hash_key, range_key, consistent_read=True)
    except model_cls.DoesNotExist:
        return None


@dataclass(frozen=True)
class Updated(Generic[M]):
    """What an `UpdateShape`'s update did: `written`, and the item as written (when asked for),
    or as it stood when the condition failed (None: there was no such item)."""

    written: bool
    item: M | None


class _Slot(Value):
    """A value an `UpdateShape` leaves open: each call names it, `attribute` serializes it."""

    def __init__(self, name: str, attribute: Attribute[Any]) -> None:
        self.name = name
        self.attribute = attribute
        self.attr_type = self.type = attribute.attr_type
        # What the expression's placeholder stands for until a call fills it in (PynamoDB
        # keeps a value as {type: serialized}).
        self.values = ({self.type: self},)
        self._write = _writer(attribute)

    def serialized(self, value: Any) -> dict[str, Any]:
        assert value is not None, f"slot {self.name} needs a value"
        return {self.type: self._write(value)}


def slot(name: str, attribute: Attribute[T]) -> T:
    """A value left open in an `update_shape`, filled in by each `send` under `name`; typed as
    the attribute's values, since PynamoDB's expressions take it where they take those."""
    return cast(T, _Slot(name, attribute))


@dataclass(frozen=True)
class UpdateShape(Generic[M]):
    """One conditional UpdateItem whose expressions PynamoDB built once, from the model's
    attributes (`update_shape`); each `send` fills in its key and its slots' values (issue #17:
    the email worker builds the same two updates for every email)."""

    model_cls: type[M]
    request: dict[str, Any]  # table, expressions, names, what it returns
    constants: dict[str, Any]  # placeholder: serialized value, the same every call
    slots: dict[str, _Slot]  # placeholder: the slot whose value it takes
    answer: bool

    def send(self, hash_key: str, range_key: str | None = None, **values: Any) -> Updated[M]:
        """The update of one item, answering it either way: as written (`answer`) or, on a
        failed condition, as it stood (ReturnValuesOnConditionCheckFailure, which PynamoDB does
        not offer; None: there was no such item), so a caller that must know why its condition
        failed (the email worker's claim, R41) reads nothing before it."""
        _forget_ahead()  # a write: what the request read ahead is read afresh after it
        keys: tuple[str, ...] = (hash_key,) if range_key is None else (hash_key, range_key)
        filled = dict(self.constants)
        for placeholder, slot in self.slots.items():
            filled[placeholder] = slot.serialized(values[slot.name])
        key = {n: {"S": v} for n, v in zip(_key_names(self.model_cls), keys, strict=True)}
        try:
            written = aws.client("dynamodb").update_item(
                **self.request, Key=key, ExpressionAttributeValues=filled
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            before = exc.response.get("Item")
            return Updated(False, loaded(self.model_cls, before) if before else None)
        if not self.answer:
            return Updated(True, None)
        return Updated(True, loaded(self.model_cls, written["Attributes"]))


def _open(value: dict[str, Any]) -> object:
    return next(iter(value.values()))


def update_shape(
    model_cls: type[M], actions: Sequence[Action], condition: Condition, *, answer: bool = True
) -> UpdateShape[M]:
    """Build an UpdateItem once: `actions` and `condition` say it in the product's words, with a
    `slot` for each value that changes from call to call. For models without a version only (no
    version condition is added). `answer=False`: nothing is read back nor parsed."""
    assert model_cls._version_attribute_name is None, "a versioned model goes through Tx"
    table = model_cls._get_connection()
    request = table.connection.get_operation_kwargs(
        table.table_name,
        "",  # the key is each call's
        range_key="" if model_cls._range_key_attribute() else None,
        actions=list(actions),
        condition=condition,
        return_values="ALL_NEW" if answer else "NONE",
        return_values_on_condition_failure="ALL_OLD",
    )
    del request["Key"]
    values = request.pop("ExpressionAttributeValues", {})
    slots = {p: left for p, v in values.items() if isinstance(left := _open(v), _Slot)}
    constants = {p: v for p, v in values.items() if p not in slots}
    return UpdateShape(model_cls, request, constants, slots, answer)


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
    ahead = _ahead.get() or {}
    found: dict[Key, Model] = {k: m for k in keys if isinstance(m := ahead.get(k), Model)}
    wanted: dict[tuple[str, tuple[str, ...]], Key] = {}
    for key in keys:
        if key in ahead:  # read ahead by this request: found or known missing
            continue
        model_cls, hash_key, range_key = key
        values: tuple[str, ...] = (hash_key,) if range_key is None else (hash_key, range_key)
        wanted[(model_cls.Meta.table_name, values)] = key
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
                    found[key] = loaded(key[0], item)
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise busy()
    return Found(found)


def loaded(model_cls: type[M], item: dict[str, Any]) -> M:
    """The model of a stored item, as `from_raw_data` builds it (defaults, then each stored
    attribute deserialized), without its per-attribute descriptor calls, run twice, nor a JSON
    decoder built per JSON attribute: about a third of the time (issue #17: every read parses
    its items, the email worker three an email). Not for models with a discriminator (Portico
    has none)."""
    stored_as, defaults = _loading_plan(model_cls)
    values: dict[str, Any] = {}
    for stored_name, stored in item.items():
        known = stored_as.get(stored_name)
        if known is None or not stored or NULL in stored:
            continue
        name, attribute, parse = known
        text = stored.get(attribute.attr_type)
        if text is None:  # stored as another type: PynamoDB's error, as from_raw_data raises it
            text = attribute.get_value(stored)
        values[name] = text if parse is None else parse(text)
    for name, default in defaults:
        if name not in values:
            value = default() if callable(default) else default
            if value is not None:
                values[name] = value
    model = model_cls.__new__(model_cls)
    model.attribute_values = values
    return model


# What JSONAttribute.deserialize builds each time it is called (json.loads with an argument).
_JSON = json.JSONDecoder(strict=False)


def _read_number(stored: str) -> Any:
    """NumberAttribute.deserialize (json.loads): the integers items hold, without the decoder."""
    return int(stored) if stored.isdigit() else _JSON.decode(stored)


def _read_datetime(stored: str) -> datetime:
    """UTCDateTimeAttribute.deserialize, in C: PynamoDB's own format only ("2026-12-01T09:30:
    15.123456+0000"), anything else is PynamoDB's to parse (or to refuse)."""
    if len(stored) == 31 and stored[26:] == "+0000" and stored[10] == "T":
        return datetime.fromisoformat(stored)
    return UTCDateTimeAttribute().deserialize(stored)


# How the attribute classes every read meets parse their stored text, as their `deserialize`
# does, without its JSON decoder built per call nor dates parsed in Python; None: the text is
# the value (UnicodeAttribute).
_PARSERS: dict[type[Attribute[Any]], Callable[[Any], Any] | None] = {
    UnicodeAttribute: None,
    JSONAttribute: _JSON.decode,
    UTCDateTimeAttribute: _read_datetime,
    NumberAttribute: _read_number,
    VersionAttribute: lambda stored: int(_read_number(stored)),
    TTLAttribute: lambda stored: datetime.fromtimestamp(_read_number(stored), tz=UTC),
}


def _writer(attribute: Attribute[Any]) -> Callable[[Any], Any]:
    """How a value of `attribute` is stored, as its `serialize` does."""
    if type(attribute) is UTCDateTimeAttribute:
        return _write_datetime
    return attribute.serialize


def _write_datetime(value: datetime) -> str:
    """UTCDateTimeAttribute.serialize (strftime) by isoformat: the same text, "2026-12-01T09:
    30:15.123456+0000", in a third of the time (the email worker writes five an email)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "+0000"


@cache
def _loading_plan(
    model_cls: type[Model],
) -> tuple[
    dict[str, tuple[str, Attribute[Any], Callable[[Any], Any] | None]], tuple[tuple[str, Any], ...]
]:
    """A model's attributes by stored name, with how each parses its stored text, and the
    defaults of those that have one."""
    assert model_cls._get_discriminator_attribute() is None, "from_raw_data picks its class"
    attributes = model_cls.get_attributes()
    stored_as = {
        a.attr_name: (name, a, _PARSERS.get(type(a), a.deserialize))
        for name, a in attributes.items()
    }
    defaults = tuple((name, a.default) for name, a in attributes.items() if a.default is not None)
    return stored_as, defaults


@cache
def _key_names(model_cls: type[Model]) -> tuple[str, ...]:
    range_attribute = model_cls._range_key_attribute()
    hash_name = model_cls._hash_key_attribute().attr_name
    return (hash_name, range_attribute.attr_name) if range_attribute else (hash_name,)


A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")


# Which read of which `together` call this thread is running, for the benchmark's count of
# sequential round trips (scripts/bench.py): calls of one call's reads cost one wait. A read
# issued together inside another's lane (the Queries of an account list read beside a session)
# adds its own step to the path.
Lane = tuple[tuple[int, int], ...]
_lane: contextvars.ContextVar[Lane] = contextvars.ContextVar("portico_read_lane", default=())
_waves = itertools.count()


def lane() -> Lane:
    """The (which `together` call, which of its reads) steps the current thread runs in,
    outermost first; empty outside any."""
    return _lane.get()


_pool_thread = threading.local()


def _mark_pool_thread() -> None:
    _pool_thread.is_one = True


@cache
def _threads() -> ThreadPoolExecutor:
    """A few threads for reads issued together, kept for the life of the process (a Lambda
    container's), so a request does not pay for starting them."""
    return ThreadPoolExecutor(
        max_workers=4, thread_name_prefix="portico-read", initializer=_mark_pool_thread
    )


def _in_lane(where: tuple[int, int], read: Callable[[], A]) -> A:
    _lane.set((*_lane.get(), where))
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
    if getattr(_pool_thread, "is_one", False):
        # Reads together inside a read issued together run one after another here: a pool
        # thread waiting on the pool deadlocks it once every thread does (parallel requests).
        return [contextvars.copy_context().run(_in_lane, (wave, 0), read) for read in reads]
    later = [
        _threads().submit(contextvars.copy_context().run, _in_lane, (wave, n), read)
        for n, read in enumerate(reads[1:], start=1)
    ]
    first = contextvars.copy_context().run(_in_lane, (wave, 0), reads[0])
    return [first, *(future.result() for future in later)]


# Reading ahead (issue #17) ----------------------------------------------------------------------

# What the current request read ahead, by key (a model's Key, or a Query's own name); None
# outside a request (the worker, the triggers, a script), which reads as it always did.
_ahead: contextvars.ContextVar[dict[Hashable, object] | None] = contextvars.ContextVar(
    "portico_read_ahead", default=None
)


@dataclass(frozen=True)
class ReadAhead:
    """What a request will read, asked for with what its session stands on so that it costs no
    round trip of its own (issue #17): items by key, in the session's BatchGetItem, and Queries
    by a name of their own, issued beside it. Each answers the request's reads (`get`,
    `get_together`, `ahead_or`) until its first write: a commit, or its retry after a refused
    condition, reads afresh what it reads after."""

    keys: Sequence[Key] = ()
    queries: Mapping[Hashable, Callable[[], object]] = field(default_factory=dict)


NOTHING_AHEAD = ReadAhead()


@contextmanager
def request_scope() -> Iterator[None]:
    """One request's reads ahead, kept from its start to its end (app.py's middleware), so a
    warm container's next request never sees them."""
    reset = _ahead.set({})
    try:
        yield
    finally:
        _ahead.reset(reset)


def read_with(keys: Sequence[Key], ahead: ReadAhead) -> Found:
    """`keys` and `ahead`'s keys in one BatchGetItem, `ahead`'s Queries beside it at once; what
    `ahead` names is kept for the request's reads (found or known missing)."""
    queries = list(ahead.queries.items())
    answers = all_together(
        [lambda: get_together([*keys, *ahead.keys]), *(read for _, read in queries)]
    )
    found = cast(Found, answers[0])
    kept = _ahead.get()
    if kept is not None:
        kept.update({key: found.of(*key) for key in ahead.keys})
        kept.update({name: answer for (name, _), answer in zip(queries, answers[1:], strict=True)})
    return found


def ahead_or(name: Hashable, read: Callable[[], T]) -> T:
    """What this request read ahead under `name` (a Query's), else `read()` now."""
    kept = _ahead.get()
    if kept is not None and name in kept:
        return cast(T, kept[name])
    return read()


def _forget_ahead() -> None:
    kept = _ahead.get()
    if kept:
        kept.clear()
