"""Argon2id's cost against Lambda's memory (README "Sizing"): what a sign-in's hash takes.

Lambda gives a function CPU in proportion to its memory (1,769 MB is one full vCPU), so a
password check that takes C seconds of CPU here takes about C × 1769 / M seconds at M MB
(below 1,769 MB; a p=1 hash uses one thread, so more memory than that buys it nothing).
For each of OWASP's recommended Argon2id parameter sets (and the RFC 9106 profile Portico used
before) this measures the CPU time of one verification, median of `--checks`, and projects it
at each candidate memory. It also measures the API's peak memory: a fresh interpreter that
imports the app and verifies one password with the chosen parameters (`passwords.STANDARD`).

    .venv/bin/python -m scripts.bench_passwords [--checks 15] [--json PATH]

Run by `make bench`; nothing asserts these timings (they are this machine's).
"""

from __future__ import annotations

from scripts import in_process  # noqa: F401 (first: the environment chalicelib reads)

# isort: split
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from argon2.profiles import RFC_9106_LOW_MEMORY

from chalicelib.services.identity import passwords
from scripts import deploy_template, interpreters

ROOT = Path(__file__).resolve().parent.parent
FULL_VCPU_MB = 1769
MEMORIES_MB = (128, 256, 512, 1024, 1769)
# OWASP Password Storage Cheat Sheet, Argon2id (equivalent strength), then the RFC's profile.
CANDIDATES: dict[str, passwords.Cost] = {
    "m=46 MiB t=1 p=1": passwords.Cost(47104, 1, 1),
    "m=19 MiB t=2 p=1 (chosen: passwords.STANDARD)": passwords.STANDARD,
    "m=12 MiB t=3 p=1": passwords.Cost(12288, 3, 1),
    "m=9 MiB t=4 p=1": passwords.Cost(9216, 4, 1),
    "m=7 MiB t=5 p=1": passwords.Cost(7168, 5, 1),
    "RFC 9106 low memory: m=64 MiB t=3 p=4 (before)": passwords.Cost(
        RFC_9106_LOW_MEMORY.memory_cost,
        RFC_9106_LOW_MEMORY.time_cost,
        RFC_9106_LOW_MEMORY.parallelism,
    ),
}
# A fresh API process: import the app as Lambda would, then check one password.
PEAK = """
import resource, sys
import app
from chalicelib.services.identity import passwords
stored = passwords.hash_password("a password of some length")
assert passwords.verify(stored, "a password of some length")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def check_cpu_seconds(cost: passwords.Cost, checks: int) -> float:
    hasher = cost.hasher()
    stored = hasher.hash("a password of some length")
    runs = []
    for _ in range(checks):
        start = time.process_time()
        hasher.verify(stored, "a password of some length")
        runs.append(time.process_time() - start)
    return statistics.median(runs)


def at_memory(cpu_seconds: float, memory_mb: int, parallelism: int) -> float:
    """The check's wall time at a memory's CPU share (threads beyond one vCPU wait)."""
    return cpu_seconds / min(memory_mb / FULL_VCPU_MB, parallelism)


def peak_rss_mb() -> float:
    env = {
        **os.environ,
        **deploy_template.PACKAGING_ENVIRONMENT,
        "PORTICO_STAGE": "prod",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("PASSWORD_HASH_COST", None)  # the standard cost, as deployed
    return int(interpreters.last_line(["-c", PEAK], env)) / 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=15)
    parser.add_argument("--json", type=Path, default=ROOT / "artifacts" / "bench_passwords.json")
    args = parser.parse_args(argv)
    rows: dict[str, Any] = {}
    for label, cost in CANDIDATES.items():
        cpu = check_cpu_seconds(cost, args.checks)
        rows[label] = {
            "parameters": vars(cost),
            "cpu_ms": round(1000 * cpu, 1),
            "ms_at_memory": {
                str(mb): round(1000 * at_memory(cpu, mb, cost.lanes)) for mb in MEMORIES_MB
            },
        }
    figures = {
        "machine": {"python": platform.python_version(), "cores": os.cpu_count()},
        "candidates": rows,
        "api_memory_mb": deploy_template.API_MEMORY_MB,
        "api_peak_rss_mb": round(peak_rss_mb(), 1),
    }
    memories = " | ".join(f"@{mb} MB" for mb in MEMORIES_MB)
    print(f"| parameters | CPU ms | {memories} |")
    print("|---|---|" + "---|" * len(MEMORIES_MB))
    for label, row in rows.items():
        cells = " | ".join(f"{ms} ms" for ms in row["ms_at_memory"].values())
        print(f"| {label} | {row['cpu_ms']} | {cells} |")
    print(
        f"API: {figures['api_memory_mb']} MB; peak RSS after import and one check "
        f"{figures['api_peak_rss_mb']} MB"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
