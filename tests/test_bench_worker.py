"""The worker benchmark (`make bench`) runs, checks its emails and reports small constants.

It runs as a subprocess: the script sets its own environment before importing chalicelib, and
this process's configuration and botocore patch (conftest.py) must not leak into it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_bench_sends_every_job_once_with_a_constant_number_of_calls(tmp_path: Path) -> None:
    # R41: the run itself fails unless SES counted exactly one send per job; R42: no failures
    out = tmp_path / "bench.json"
    run = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [
            sys.executable,
            "-m",
            "scripts.bench_worker",
            "--jobs",
            "12",
            "--rounds",
            "3",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "ratio worker/baseline emails/s" in run.stdout
    figures = json.loads(out.read_text())
    assert figures["checks"] == {
        "every_job_sent_once": True,
        "ses_sends_worker": 12,
        "ses_sends_baseline": 12,
        "ses_sends_floor": 12,
        "same_emails": True,
    }
    worker, baseline = figures["worker"], figures["baseline"]
    assert worker["emails"] == baseline["emails"] == 12
    # Round trips per job are constants of the code, not of the machine (DESIGN "Data").
    # Issue #17: the claim (which answers the job), one BatchGetItem, the outcome; a fourth
    # call per email fails this.
    assert worker["calls_per_email"]["dynamodb"] <= 3
    assert set(worker["by_operation"]["dynamodb"]) == {"UpdateItem", "BatchGetItem"}
    assert worker["calls_per_email"]["ses"] == 1
    assert worker["calls_per_email"]["sqs"] <= 0.5  # one receive and one delete per batch
    assert "Scan" not in worker["by_operation"]["dynamodb"]
    assert baseline["calls_per_email"] == {"dynamodb": 0, "ses": 1, "sqs": 0}
    # The floor (the least a worker can do) makes exactly the worker's calls, or it says
    # nothing of what the calls cost
    floor = figures["floor"]
    assert floor["emails"] == 12
    for service in ("dynamodb", "ses"):  # SQS: as many receives as the queue's answers took
        assert floor["calls_per_email"][service] == worker["calls_per_email"][service]
    assert {s: set(ops) for s, ops in floor["by_operation"].items()} == {
        s: set(ops) for s, ops in worker["by_operation"].items()
    }
    assert figures["ratio_floor_to_baseline"] > 0
    assert figures["ratio_worker_to_floor"] > 0
    assert figures["ratio_outside_aws_calls"] > 0  # a timing: reported, not asserted
    # The paths took turns, each round's emails sent by both (the checks above hold for all)
    assert figures["rounds"] == len(figures["ratio_outside_aws_calls_by_round"]) == 3
    assert all(ratio > 0 for ratio in figures["ratio_outside_aws_calls_by_round"])
    # Each round replayed with no moto (the run fails unless the replays made the same calls,
    # ended the same jobs and sent the same emails): reported beside, for each round
    replayed = figures["replayed"]
    assert len(replayed["ratio_outside_aws_calls_by_round"]) == 3
    assert replayed["ratio_outside_aws_calls"] > 0
    assert set(replayed["ms_per_email_outside_aws_calls"]) == {"worker", "floor", "baseline"}
    assert all(ms > 0 for ms in replayed["ms_per_email_outside_aws_calls"].values())
    assert replayed["ratio_floor_to_baseline"] > 0
    assert worker["emails_per_second"] > 0
    assert baseline["emails_per_second"] > 0
    assert figures["ratio_worker_to_baseline"] == pytest.approx(
        worker["emails_per_second"] / baseline["emails_per_second"], rel=0.01
    )
