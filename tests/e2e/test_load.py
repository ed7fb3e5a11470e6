"""A short run of `make load` on the shared local stack (issue #18, R39, R41, R42): a mix of
sign-ins with the chooser and switches, client lists and searches, client adds with invites,
bookings, portal reads and a group sign-up burst, with DynamoDB throttling, SES and SQS send
failures injected during its middle third; no 5xx, and the reconciliation finds every accepted
write once and every email job ended, none sent twice."""

from __future__ import annotations

import pytest

from scripts.load import run_against
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def test_a_short_load_run_with_faults_reconciles_to_zero(stack: Stack) -> None:
    # A short run has few calls in its middle third: higher rates make a fault all but certain
    # (5 % of DynamoDB calls still leaves a throttle past the SDK's four tries about 1 in 10^5).
    report = run_against(
        stack.base_url,
        stack.moto_url,
        max_requests=80,
        seconds=5,
        workers=3,
        burst=4,
        faults={"dynamodb": 0.05, "ses": 0.5, "sqs": 0.5},
    )
    assert report["server_errors"] == 0, report["server_error_samples"]
    reconciliation = report["reconciliation"]
    assert reconciliation["differences"] == dict.fromkeys(reconciliation["differences"], 0)
    assert reconciliation["accepted"]["clients"] > 1
    assert reconciliation["email_jobs"].get("sent", 0) > 0
    assert sum(report["faults_injected"].values()) > 0  # the faults did happen
