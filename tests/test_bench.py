"""Round trips do not grow with the organization (DESIGN "Data"), for every call `make bench`
measures: a bounded slice of it, 10 against 200 clients seeded straight into the table.

A subprocess, as tests/test_bench_worker.py: the script sets its own environment and patches
botocore before importing chalicelib."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# Round trips of the staff calls (issue #13, R49), at most: a new read on these paths shows here.
STAFF_BUDGETS = {
    "provider add (its staff invite queued)": 3,  # org and claim with the session (#17)
    "staff invite resend (the older link dies)": 4,  # as a client's invite (#17)
    "staff invite accept (the form, setting a password)": 4,  # B9: its code in its transaction
    "provider role change (to staff: its clients counted)": 5,
    "provider deactivate (no clients)": 7,
}

# Sequential round trips of issue #17's table, at most (its goals in README "Benchmarks"): a
# session costs its GetItem and one BatchGetItem of what it stands on, with what the route
# reads next (db.ReadAhead).
SEQUENTIAL_BUDGETS = {
    "sign-in": 4,  # the claim read while the attempt counts; the login beside its Queries
    "switch": 3,  # the account and its organization read with the session
    "me": 3,  # the account Queries beside the session's batch read
    "client timeline (invite, email, audit)": 4,  # its three sources at once
    "client search, every status (a page of 10)": 4,
    "client list (a page of 10)": 3,
    "client get": 3,  # the profile and its live pointer with the session, then the token
    "client create": 3,  # the org, the email's claim, the providers' Query with the session
    "invite issue (a resend: the older link dies)": 4,  # the older token, then the write
    "invite redeem (the form, setting a password)": 4,  # the token, two batch reads, the write
    "code exchange (the portal trades a page's code)": 5,  # what `me` reads, after the move
    "archive": 3,
}


def test_every_benchmarked_call_costs_the_same_round_trips_at_10_and_200_clients(
    tmp_path: Path,
) -> None:
    # DESIGN "Data": the number of round trips of a call must not grow with the size of a table
    out = tmp_path / "bench.json"
    run = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [
            sys.executable,
            "-m",
            "scripts.bench",
            "--sizes",
            "10",
            "200",
            "--reps",
            "1",
            "--imports",
            "0",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads(out.read_text())
    small, large = figures["calls"]["10"], figures["calls"]["200"]
    assert set(small) == set(large)
    assert {"sign-in", "switch", "me", "client get", "client create", "archive"} <= set(small)
    for name, call in small.items():
        assert call["round_trips"] == large[name]["round_trips"], name
        assert call["sequential_round_trips"] == large[name]["sequential_round_trips"], name
        assert call["items_read"] >= large[name]["items_read"], name
        assert "Scan" not in call["operations"] + large[name]["operations"], name
        assert call["round_trips"] > 0, name
    assert figures["grown"] == []
    # R55: a page of a search is the session (2), one Query, one BatchGetItem of the clients
    # found; with every status, a Query for each
    assert small["client search (a page of 10)"]["round_trips"] <= 4
    assert small["client search, one found by email"]["round_trips"] <= 4
    assert small["client search, every status (a page of 10)"]["round_trips"] <= 5
    # B10: the session (2), the profile, one Query of each of the three sources
    assert small["client timeline (invite, email, audit)"]["round_trips"] <= 6
    for name, most in SEQUENTIAL_BUDGETS.items():
        assert small[name]["sequential_round_trips"] <= most, (name, small[name])
        assert small[name]["sequential_round_trips"] <= small[name]["round_trips"], name
    for name, most in STAFF_BUDGETS.items():  # R49's calls, as measured on this branch
        assert small[name]["round_trips"] <= most, (name, small[name])
