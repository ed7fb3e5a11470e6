"""What every Portico table shares: where it lives and how its times are stored."""

from __future__ import annotations

from chalicelib import config


class BaseMeta:
    region = config.REGION
    host = config.AWS_ENDPOINT_URL
    billing_mode = "PAY_PER_REQUEST"
    # Lambda has seconds, not minutes: fail fast and let the caller's retry or the queue act.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3
