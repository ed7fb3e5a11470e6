"""moto's TransactWriteItems made all-or-nothing item by item rather than table by table.

moto keeps a transaction atomic by deep-copying each table the transaction touches, once for
every item of it, and by putting those copies back when an item fails. A transaction then
costs its items times the size of its tables: with a client's search entries (R55) in the
transaction that adds the client, tests and the local stack slowed to seconds a request as
tables filled. This keeps moto's behaviour and drops the copies: before the transaction runs,
the items it names are kept (a copy of each, or their absence), and if it fails they are put
back, exactly as the whole-table copy would have left them. moto answers its indexes from the
items, so the indexes follow.

Used wherever Portico runs on moto: the tests in process (tests/support/moto.py), the
benchmarks and the local stack. Never by the app itself.
"""

from __future__ import annotations

import copy
from typing import Any

import moto.dynamodb.models as moto_dynamodb
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models.dynamo_type import DynamoType

_PATCHED = "_portico_undo_by_item"


class _NoTableCopies:
    """moto's `copy` for the span of one transaction: tables are not copied (the journal
    stands in for them); everything else is copied as before."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, moto_dynamodb.Table):
            return value
        return self.real.deepcopy(value, memo)


def _key(table: Any, operation: dict[str, Any]) -> tuple[Any, Any] | None:
    """The (hash, range) an item of a transaction names, or None if it names none (moto then
    refuses it before it writes anything)."""
    attributes = operation.get("Item") or operation.get("Key") or {}
    try:
        hash_value = DynamoType(attributes[table.hash_key_attr])
        range_value = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, TypeError):
        return None
    return hash_value, range_value


def _journal(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    kept = []
    for item in transact_items:
        _, operation = next(iter(item.items()))
        table = backend.tables.get(operation.get("TableName"))
        key = _key(table, operation) if table is not None else None
        if key is None:
            continue
        try:
            before = table.get_item(*key)
        except MockValidationException:
            continue
        kept.append((table, *key, copy.deepcopy(before)))
    return kept


def _put_back(kept: list[tuple[Any, ...]]) -> None:
    for table, hash_value, range_value, before in reversed(kept):
        if range_value is None:
            if before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
            continue
        if before is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = before


def undo_by_item() -> None:
    """Patch moto's DynamoDB backend (once) to undo a failed transaction item by item."""
    backend_class = moto_dynamodb.DynamoDBBackend
    if getattr(backend_class, _PATCHED, False):
        return
    original = backend_class.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        kept = _journal(self, transact_items)
        real = moto_dynamodb.copy
        moto_dynamodb.copy = _NoTableCopies(real)  # type: ignore[assignment]
        try:
            original(self, transact_items)
        except BaseException:
            _put_back(kept)
            raise
        finally:
            moto_dynamodb.copy = real

    backend_class.transact_write_items = transact_write_items  # type: ignore[method-assign]
    setattr(backend_class, _PATCHED, True)
