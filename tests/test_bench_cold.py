"""Issue #17's "cold start to first answer" benchmark still answers (not a timing assertion):
one fresh process of the app answers `GET /v1/me` 200 with the seeded practice's account, and
the bare app replays the same DynamoDB reads and answers 200.

A subprocess, as tests/test_bench.py: the script starts moto's server and its own interpreters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cold_start_first_answer_is_the_signed_in_account_for_app_and_bare() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "scripts.bench_cold", "--runs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout)
    assert figures["app_status"] == 200
    assert figures["app_account_id"] == figures["seeded_account_id"]
    assert figures["app_account_id"].startswith("staff:")
    assert figures["bare_status"] == 200
    # the bare app makes the app's own reads: the session's GetItem first (issue #17)
    assert figures["reads"][0] == "GetItem"
    assert figures["app_ms"] > 0
    assert figures["bare_ms"] > 0
