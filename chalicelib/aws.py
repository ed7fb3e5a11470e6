"""AWS clients (DynamoDB, SQS, SES, KMS, SSM), each built once on first use at the configured
endpoint, and shared by every thread and every PynamoDB model.

Nothing is built at import: a cold start that never sends email never pays for an SQS or SES
client, and tests can point the endpoint (or moto) before the first call.

Why one botocore session and one client a service (issue #17): building a client loads its
service model from botocore's JSON, and a fresh session loads it again. Left to itself,
PynamoDB builds a client for each model class, on a new session for each thread, so a cold
start that read five tables from the read pool's threads paid for five to ten DynamoDB clients
(about 40% of its first answer). botocore clients are thread-safe once built; sessions and
`create_client` are not, so clients are built under a lock and read without one afterwards.
botocore is what boto3 wraps; calling it directly keeps boto3's import out of a cold start.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib import config

_lock = threading.Lock()
_clients: dict[str, Any] = {}

# DynamoDB answers in milliseconds: a Lambda has seconds, not minutes, so fail fast and let the
# caller's retry or the queue act. Parameters are not validated in the client (PynamoDB's own
# choice, for speed): DynamoDB validates them anyway.
_DYNAMODB = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"total_max_attempts": 4, "mode": "standard"},
    parameter_validation=False,
)
_CONFIGS: dict[str, Config] = {"dynamodb": _DYNAMODB}


def client(service: str) -> Any:
    """The process's one client of `service`."""
    built = _clients.get(service)
    if built is None:
        with _lock:  # built once even when threads ask together
            built = _clients.get(service)
            if built is None:
                built = _clients[service] = session().create_client(
                    service,
                    region_name=config.REGION,
                    endpoint_url=config.AWS_ENDPOINT_URL,
                    config=_CONFIGS.get(service),
                )
    return built


@cache
def session() -> botocore.session.Session:
    """Called under the lock only: a botocore session is not thread-safe."""
    return botocore.session.get_session()


@cache
def queue_url(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def reset() -> None:
    """Forget the session, clients and URLs (tests that swap the endpoint or start a moto)."""
    with _lock:
        session.cache_clear()
        _clients.clear()
    queue_url.cache_clear()


# What AWS answers when a service sheds load (DynamoDB, KMS, SQS, SES), and what a cancelled
# transaction names for an item that was throttled (ThrottlingError).
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "RequestThrottled",
        "TooManyRequestsException",
        "ThrottlingError",
    }
)


def throttled(error: BaseException) -> bool:
    """Whether `error` is AWS shedding load, past the SDK's own retries: botocore's error, or
    one that wraps it (PynamoDB keeps it as `cause`, a `raise ... from` as `__cause__`)."""
    seen: BaseException | None = error
    for _ in range(5):  # PynamoDB wraps once; a chain longer than this is not AWS's answer
        if seen is None:
            return False
        if isinstance(seen, ClientError):
            codes = {seen.response.get("Error", {}).get("Code")}
            # A cancelled transaction's reasons: botocore's answer holds them; PynamoDB's
            # VerboseClientError keeps them apart, as `cancellation_reasons`.
            codes |= {r.get("Code") for r in seen.response.get("CancellationReasons") or []}
            codes |= {r.code for r in getattr(seen, "cancellation_reasons", None) or [] if r}
            return not codes.isdisjoint(THROTTLING_CODES)
        seen = getattr(seen, "cause", None) or seen.__cause__
    return False
