"""Structured logs: one JSON line an event, carrying ids only (R48).

Callers pass keyword ids; values that are not ids (names, emails, dates of birth, tokens) have
no place here, and `event` names say what happened in the product's words.

Each line is formatted by Powertools for AWS Lambda's formatter: level, timestamp, service,
the event (under `message`), and the invocation's ids, set by `invoked` for every event an
invocation logs: the Lambda request id, API Gateway's request id (the access log's) and whether
this was the function's cold start. On Lambda the events go to stdout, alone; locally they
reach the root logger as before (`make run` stays quiet, pytest's caplog sees them).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from chalicelib import config

# Not "portico": that is the Chalice app's own logger, which does not propagate.
_logger = logging.getLogger("portico_events")
_logger.setLevel(logging.INFO)
# UTC timestamps with milliseconds; no location (a file and line number are noise here).
FORMATTER = LambdaPowertoolsFormatter(
    service=config.SERVICE, utc=True, use_rfc3339=True, location=None
)
INVOCATION_KEYS = ("function_request_id", "api_request_id", "cold_start")
if not config.is_local():
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(FORMATTER)
    _logger.addHandler(_handler)
    _logger.propagate = False  # Lambda's root handler would write each line a second time

_cold = True
R = TypeVar("R")


def event(name: str, **ids: str | int | None) -> None:
    _logger.info(json.dumps({"event": name, **{k: v for k, v in ids.items() if v is not None}}))


def invoked(event: Any, work: Callable[[], R]) -> R:
    """Run one invocation's `work` with its ids on every line it logs (app.py's middleware).

    `event` is Chalice's: an HTTP Request carries API Gateway's request context and the Lambda
    context apart; the other events (SQS, schedules) carry the Lambda context alone."""
    global _cold  # noqa: PLW0603 (the process's one cold start)
    context = getattr(event, "context", None)
    api = context if isinstance(context, dict) else {}
    lambda_context = getattr(event, "lambda_context", None) or (None if api else context)
    # Per thread (a context variable), not on the formatter: `chalice local` answers requests
    # on several threads of one process, and each line must name its own invocation.
    FORMATTER.thread_safe_append_keys(
        function_request_id=getattr(lambda_context, "aws_request_id", None),
        api_request_id=api.get("requestId"),
        cold_start=_cold,
    )
    _cold = False
    try:
        return work()
    finally:
        FORMATTER.thread_safe_remove_keys(INVOCATION_KEYS)
