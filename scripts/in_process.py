"""Moto in process for the benchmarks: fake credentials and the local stage, set before any
chalicelib import, since Portico reads its configuration once (as tests/conftest.py does).
Import this module first."""

from __future__ import annotations

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PORTICO_STAGE": "local",
        "TABLE_PREFIX": "portico-bench",
        "PASSWORD_HASH_COST": "low",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
