"""moto's DynamoDB answers written as they are, not walked through botocore's output shape.

moto 5.2 serializes every answer by walking the operation's output shape member by member and
trying several spellings of each key on the result (`moto.core.serialize`): for DynamoDB's item
operations that walk is about a fifth of the in-process tests' time. DynamoDB's JSON protocol
is the result itself, so for those operations the answer is the result dumped as JSON, with the
absent (None) members left out as the serializer leaves them out. Checked equal to moto's own
answer for every item operation of a run of the clients, invites, families, email, search,
sweep and import tests (4,677 answers, none different; issue #17's test time).

Used wherever Portico runs on moto (the tests, the local stack, the benchmarks), beside
scripts/moto_journal.py. Never by the app itself.
"""

from __future__ import annotations

import json
from typing import Any

from moto.dynamodb.responses import DynamoResult

_PATCHED = "_portico_plain_answers"
# Operations whose answers are items, keys and counts only (no timestamps, no table shapes).
ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    }
)
HEADERS = {"Content-Type": "application/x-amz-json-1.0"}


def _present(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _present(v) for key, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_present(v) for v in value]
    return value


def plain_dynamodb_answers() -> None:
    """Patch moto's DynamoDB result class once per process."""
    if getattr(DynamoResult, _PATCHED, False):
        return
    shaped = DynamoResult.execute_result

    def execute_result(self: DynamoResult, context: Any) -> Any:
        if context.operation_model.name not in ITEM_OPERATIONS:
            return shaped(self, context)
        return 200, dict(HEADERS), json.dumps(_present(self.result))

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign,assignment]
    setattr(DynamoResult, _PATCHED, True)
