"""A fresh Python interpreter of the project's own: what the cold-start benchmarks and tests
measure in (nothing of the measuring process is loaded there)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def last_line(arguments: list[str], env: dict[str, str], timeout: float = 120) -> str:
    """What `python <arguments>`, run in the checkout with `env`, printed last; its failure
    raises with what it said."""
    run = subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    return run.stdout.strip().splitlines()[-1]
