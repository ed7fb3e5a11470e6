"""What every Portico table shares: where it lives, the client it is read through, and how its
times are stored."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from pynamodb.attributes import Attribute, ListAttribute
from pynamodb.connection import TableConnection
from pynamodb.models import Model

from chalicelib import aws, config

T = TypeVar("T")


class BaseMeta:
    region = config.REGION
    host = config.AWS_ENDPOINT_URL
    billing_mode = "PAY_PER_REQUEST"
    # Timeouts and retries are the shared client's (aws.py): PynamoDB's own are never used.


class Stored(Model):
    """A model of a Portico table. Every model reads and writes through the process's one
    DynamoDB client (aws.py), not a client of its own on a session of each thread: building
    those was about 40% of a cold start's first answer (issue #17). PynamoDB has no option for a
    client of one's own, so its connection's `_client` is set; tests/test_cold_clients.py
    fails if a PynamoDB upgrade stops using it."""

    @classmethod
    def _get_connection(cls) -> TableConnection:
        table = super()._get_connection()
        table.connection._client = aws.client("dynamodb")  # the current one, after aws.reset too
        return table


def list_of(element: type[Attribute[T]], **options: Any) -> ListAttribute[T]:
    """A ListAttribute typed by what its elements read back as. PynamoDB types `of` as the
    attribute class, so `ListAttribute(of=UnicodeAttribute)` would read as attributes, not str."""
    return cast("ListAttribute[T]", ListAttribute(of=element, **options))
