"""What every Portico table shares: where it lives and how its times are stored."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from pynamodb.attributes import Attribute, ListAttribute

from chalicelib import config

T = TypeVar("T")


class BaseMeta:
    region = config.REGION
    host = config.AWS_ENDPOINT_URL
    billing_mode = "PAY_PER_REQUEST"
    # Lambda has seconds, not minutes: fail fast and let the caller's retry or the queue act.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3


def list_of(element: type[Attribute[T]], **options: Any) -> ListAttribute[T]:
    """A ListAttribute typed by what its elements read back as. PynamoDB types `of` as the
    attribute class, so `ListAttribute(of=UnicodeAttribute)` would read as attributes, not str."""
    return cast("ListAttribute[T]", ListAttribute(of=element, **options))
