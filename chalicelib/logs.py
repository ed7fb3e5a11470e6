"""Structured logs: one JSON line an event, carrying ids only (R48).

Callers pass keyword ids; values that are not ids (names, emails, dates of birth, tokens) have
no place here, and `event` names say what happened in the product's words.
"""

from __future__ import annotations

import json
import logging

# Not "portico": that is the Chalice app's own logger, which does not propagate.
_logger = logging.getLogger("portico_events")
_logger.setLevel(logging.INFO)


def event(name: str, **ids: str | int | None) -> None:
    _logger.info(json.dumps({"event": name, **{k: v for k, v in ids.items() if v is not None}}))
