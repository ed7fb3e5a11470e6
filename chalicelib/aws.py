"""boto3 clients (SQS, SES, KMS), built once on first use at the configured endpoint.

Nothing is built at import: a cold start that never sends email never pays for a client, and
tests can point the endpoint (or moto) before the first call. Every client comes from one
boto3 session: a session loads botocore's service models and credential chain once, so a
second client costs milliseconds instead of the 60–170 ms a fresh session's first one does.
boto3 clients are thread-safe; sessions are not, which is why the session is made under a lock.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from chalicelib import config

_lock = threading.Lock()


@cache
def session() -> Any:
    import boto3  # noqa: PLC0415 (heavy; only the paths that send need it)

    return boto3.session.Session()


def client(service: str) -> Any:
    with _lock:  # one client per service, built once even when threads ask together
        return _client(service)


@cache
def _client(service: str) -> Any:
    return session().client(
        service, region_name=config.REGION, endpoint_url=config.AWS_ENDPOINT_URL
    )


@cache
def queue_url(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def reset() -> None:
    """Forget the session, clients and URLs (tests that swap the endpoint or start a moto)."""
    session.cache_clear()
    _client.cache_clear()
    queue_url.cache_clear()
