"""Counts of what operators alarm on, as CloudWatch embedded-format metrics (EMF).

Each count (inside `batched`, each name's total) is one EMF line on stdout through Powertools
for AWS Lambda's `single_metric`: CloudWatch Logs turns it into a metric with no API call, so
counting costs no round trip and needs no flush at the end of an invocation. Dimensions carry
reasons and kinds, never ids of people (R48) and never anything with many values.

| metric | where | dimensions |
|---|---|---|
| EmailsSent | the worker, each sent email (R41), one line a batch | kind |
| EmailsSuppressed | the worker (R36–R38, R43), one line a batch | reason |
| EmailsDead | the outbox sweep, once per dead job (R42) | |
| SignInFailures | a failed password check: sign-in, the join page, a practice sign-up (R45) | |
| Throttled | every 429 the API answers (R17, R20, R45, and AWS throttling past the retries) | |
"""

from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from chalicelib import config

# Counts held back by `batched`, by name and dimensions; None outside it.
_held: contextvars.ContextVar[Counter[tuple[str, tuple[tuple[str, str], ...]]] | None] = (
    contextvars.ContextVar("portico_metrics_held", default=None)
)


def count(name: str, **dimensions: str) -> None:
    """One occurrence of `name`, in the stage's namespace (held for its total in `batched`)."""
    held = _held.get()
    if held is not None:
        held[(name, tuple(sorted(dimensions.items())))] += 1
        return
    _emit(name, 1, dimensions)


@contextmanager
def batched() -> Iterator[None]:
    """Counts made inside go out when it ends, one EMF line per name and dimensions with their
    total (the email worker: one line a kind a batch, not one an email; issue #17)."""
    held: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    reset = _held.set(held)
    try:
        yield
    finally:
        _held.reset(reset)
        for (name, dimensions), total in held.items():
            _emit(name, total, dict(dimensions))


def _emit(name: str, value: int, dimensions: dict[str, str]) -> None:
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=config.METRICS_NAMESPACE,
        default_dimensions={"service": config.SERVICE, "stage": config.STAGE, **dimensions},
    ):
        pass
