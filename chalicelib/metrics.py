"""Counts of what operators alarm on, as CloudWatch embedded-format metrics (EMF).

Each count is one EMF line on stdout through Powertools for AWS Lambda's `single_metric`:
CloudWatch Logs turns it into a metric with no API call, so counting costs no round trip and
needs no flush at the end of an invocation. Dimensions carry reasons and kinds, never ids of
people (R48) and never anything with many values.

| metric | where | dimensions |
|---|---|---|
| EmailsSent | the worker, once per sent email (R41) | kind |
| EmailsSuppressed | the worker (R36–R38, R43) | reason |
| EmailsDead | the outbox sweep, once per dead job (R42) | |
| SignInFailures | a failed password check: sign-in, the join page, a practice sign-up (R45) | |
| Throttled | every 429 the API answers (R17, R20, R45) | |
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from chalicelib import config


def count(name: str, **dimensions: str) -> None:
    """One occurrence of `name`, in the stage's namespace."""
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=config.METRICS_NAMESPACE,
        default_dimensions={"service": config.SERVICE, "stage": config.STAGE, **dimensions},
    ):
        pass
