"""Atomic writes: one TransactWriteItems whose failed conditions become product errors.

A service assembles everything one change writes (the record, its unique claims, later its
email job) into one `Tx`, so a request never leaves a half-written record. Each write may say
which error its condition means when it fails, in the product's words (`on_conflict`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import config
from chalicelib.errors import Conflict, PorticoError

ErrorFactory = Callable[[], PorticoError]


@cache
def connection() -> Connection:
    """One low-level connection for transactions, built on first use (cold starts stay short)."""
    return Connection(region=config.REGION, host=config.AWS_ENDPOINT_URL, max_retry_attempts=3)


@dataclass
class Tx:
    """Writes to commit together. PynamoDB sends condition checks, deletes, puts, then
    updates; the cancellation reasons come back in that order, so each kind keeps its own list."""

    _checks: list[tuple[Callable[[TransactWrite], None], ErrorFactory | None]] = field(
        default_factory=list
    )
    _deletes: list[tuple[Callable[[TransactWrite], None], ErrorFactory | None]] = field(
        default_factory=list
    )
    _puts: list[tuple[Callable[[TransactWrite], None], ErrorFactory | None]] = field(
        default_factory=list
    )
    _updates: list[tuple[Callable[[TransactWrite], None], ErrorFactory | None]] = field(
        default_factory=list
    )

    def check(
        self,
        model_cls: type[Model],
        hash_key: str,
        range_key: str | None,
        condition: Condition,
        on_conflict: ErrorFactory,
    ) -> None:
        self._checks.append(
            (lambda tw: tw.condition_check(model_cls, hash_key, range_key, condition), on_conflict)
        )

    def delete(
        self,
        model: Model,
        condition: Condition | None = None,
        on_conflict: ErrorFactory | None = None,
    ) -> None:
        self._deletes.append((lambda tw: tw.delete(model, condition), on_conflict))

    def save(
        self,
        model: Model,
        condition: Condition | None = None,
        on_conflict: ErrorFactory | None = None,
    ) -> None:
        before_save = getattr(model, "before_save", None)
        if before_save:
            before_save()
        self._puts.append((lambda tw: tw.save(model, condition), on_conflict))

    def update(
        self,
        model: Model,
        actions: list[Action],
        condition: Condition | None = None,
        on_conflict: ErrorFactory | None = None,
    ) -> None:
        self._updates.append((lambda tw: tw.update(model, actions, condition), on_conflict))

    def __len__(self) -> int:
        return len(self._checks) + len(self._deletes) + len(self._puts) + len(self._updates)

    def commit(self, attempts: int = 5) -> None:
        """Write all or nothing. A failed condition raises its `on_conflict` error; a clash with
        another transaction in flight (DynamoDB's TransactionConflict, when many requests touch
        one item, e.g. one identity) is retried with exponential backoff and jitter, then
        answered 409."""
        ops = [*self._checks, *self._deletes, *self._puts, *self._updates]
        for attempt in range(attempts):
            try:
                with TransactWrite(connection=connection()) as tw:
                    for write, _ in ops:
                        write(tw)
                return
            except TransactWriteError as exc:
                reasons = _reason_codes(exc)
                for (_, on_conflict), code in zip(ops, reasons, strict=False):
                    if code == "ConditionalCheckFailed":
                        if on_conflict is None:
                            raise Conflict(
                                "This record was changed by someone else at the same time; "
                                "reload it and try again.",
                                code="concurrent_change",
                            ) from exc
                        raise on_conflict() from exc
                if "TransactionConflict" not in reasons or attempt == attempts - 1:
                    if "TransactionConflict" in reasons:
                        raise Conflict(
                            "Another change to the same records is in progress; try again.",
                            code="concurrent_change",
                        ) from exc
                    raise
                time.sleep(random.uniform(0.01, 0.03) * 2**attempt)  # noqa: S311 (jitter, not a secret)


def _reason_codes(exc: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in exc.cancellation_reasons]


M = TypeVar("M", bound=Model)


def get(model_cls: type[M], hash_key: str, range_key: str | None = None) -> M | None:
    """One strongly consistent GetItem, or None when the item does not exist."""
    try:
        return model_cls.get(hash_key, range_key, consistent_read=True)
    except model_cls.DoesNotExist:
        return None
