"""A cold process builds one DynamoDB client, however many tables and threads its first request
reads from (issue #17: building clients was about 40% of a cold start's first answer)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import botocore.session
import pytest
from pynamodb.models import Model

from chalicelib import aws, db
from chalicelib.models import TABLE_OWNERS, TTL_MODELS
from chalicelib.models.base import Stored
from tests.support.api import Api, Practice


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The clients built from now on, by service, in a process that has built none yet."""
    counted: Counter[str] = Counter()
    original = botocore.session.Session.create_client

    def create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        counted[service_name] += 1
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    # As cold as a new Lambda container: no session, no client, no model's connection.
    aws.reset()
    for model in Stored.__subclasses__():
        monkeypatch.setattr(model, "_connection", None)
    db._transactions.cache_clear()
    return counted


def test_issue_17_a_first_request_reading_many_tables_on_several_threads_builds_one_client(
    api: Api, practice: Practice, built: Counter[str]
) -> None:
    # GET /v1/me reads the session, then identity, account, organization and levels together
    # on the read pool's threads; a client added and its invite write a transaction.
    assert api.get("/v1/me", practice.admin_token).status == 200
    added = api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": "Sam", "last_name": "Stone", "email": "sam@example.com"},
        practice.admin_token,
    )
    assert added.status == 201, added.body
    assert built["dynamodb"] == 1


@pytest.mark.usefixtures("aws")
def test_issue_17_every_model_and_the_transactions_go_through_the_shared_client(
    built: Counter[str],
) -> None:
    shared = aws.client("dynamodb")
    # A model made straight from PynamoDB's Model would build a client of its own.
    portico = [
        m
        for m in Model.__subclasses__()
        if m.__module__.startswith("chalicelib.") and m is not Stored
    ]
    assert portico == [], [m.__name__ for m in portico]
    assert set(TABLE_OWNERS) | set(TTL_MODELS) <= set(Stored.__subclasses__())
    for model in Stored.__subclasses__():
        # PynamoDB's own attribute: an upgrade that stops reading it fails here, not in AWS.
        assert model._get_connection().connection.client is shared, model.__name__
    assert db.connection().client is shared
    assert built["dynamodb"] == 1
