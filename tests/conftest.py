"""Test set-up: moto in process, the Chalice app through chalice.test.Client.

The environment is set before any chalicelib import, since configuration is read once.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
from typing import Any

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PORTICO_STAGE": "local",
        "TABLE_PREFIX": "portico-test",
        "PASSWORD_HASH_COST": "low",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import botocore.client
import pytest
from chalice.test import Client
from moto.dynamodb.responses import DynamoHandler

from app import app
from tests.support import moto
from tests.support.api import Api, Practice, sign_up_practice

# The slowest in-process modules, measured (README "How the tests stay fast"): handed to the
# xdist workers first, so that neither worker is left with one of them at the end while the
# other idles (longest first; `--dist loadfile` keeps each module on one worker).
SLOWEST_FIRST = (
    "test_deployment.py",
    "test_portal.py",
    "test_bench.py",
    "test_imports.py",
    "test_contract.py",
    "test_suppression_properties.py",
    "test_bench_worker.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if any("e2e" in item.path.parts for item in items):
        return  # the end-to-end run keeps its own order (tests/e2e/conftest.py)

    def weight(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=weight)  # stable: the order within each module stays pytest's


@pytest.fixture(scope="session")
def moto_session() -> Iterator[None]:
    """moto, Portico's tables, queues and sender, and the boto3 clients: once per session (one
    per xdist worker). Requested through `aws`; a test never sees another test's data."""
    with moto.session_aws():
        yield


@pytest.fixture
def aws(moto_session: None) -> None:
    """An empty world: the session's resources with every item, message and sent email wiped."""
    moto.wipe()


@pytest.fixture
def api(aws: None) -> Iterator[Api]:
    with Client(app, stage_name="local") as client:
        yield Api(client)


@pytest.fixture(scope="session")
def _practice_snapshot(moto_session: None) -> tuple[Practice, moto.Snapshot]:
    """The "sunrise" practice signed up once through the API; `practice` restores it."""
    moto.wipe()
    with Client(app, stage_name="local") as client:
        made = sign_up_practice(Api(client), "sunrise")
    return made, moto.snapshot()


@pytest.fixture
def practice(api: Api, _practice_snapshot: tuple[Practice, moto.Snapshot]) -> Practice:
    """A practice with its admin signed in: exactly what a fresh sign-up leaves (restored)."""
    made, taken = _practice_snapshot
    moto.restore(taken, "practice")
    return copy.deepcopy(made)


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto in process, one DynamoDB call at a time as DynamoDB is atomic per request (the
    local stack does the same: scripts/local_stack.py serialize_dynamodb); without it moto's
    transactions interleave and a race test would measure moto, not the code."""
    lock = threading.Lock()
    call_action = DynamoHandler.call_action

    def one_at_a_time(self: DynamoHandler) -> object:
        with lock:
            return call_action(self)

    monkeypatch.setattr(DynamoHandler, "call_action", one_at_a_time)


class DynamoCalls:
    """Every DynamoDB operation the code under test makes (round trips, and the Scan guard)."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def clear(self) -> None:
        self.operations.clear()


@pytest.fixture(autouse=True)
def dynamo_calls(monkeypatch: pytest.MonkeyPatch) -> DynamoCalls:
    """Records DynamoDB calls and fails any Scan: no request path may scan (DESIGN "Data")."""
    calls = DynamoCalls()
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            if operation_name == "Scan":
                raise AssertionError("A Scan was issued; every request path must Query or Get.")
            calls.operations.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls
