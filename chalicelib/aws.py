"""boto3 clients for SQS and SES, built once on first use at the configured endpoint.

Nothing is built at import: a cold start that never sends email never pays for a client, and
tests can point the endpoint (or moto) before the first call.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from chalicelib import config


@cache
def client(service: str) -> Any:
    import boto3  # noqa: PLC0415 (heavy; only the paths that send need it)

    return boto3.session.Session().client(
        service, region_name=config.REGION, endpoint_url=config.AWS_ENDPOINT_URL
    )


@cache
def queue_url(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def reset() -> None:
    """Forget clients and URLs (tests that swap the endpoint or start a fresh moto)."""
    client.cache_clear()
    queue_url.cache_clear()
