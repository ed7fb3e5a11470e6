"""Many requests at once: against the real local stack, each on a connection of its own, or
in process (threads against moto, with the `atomic_moto` fixture)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import requests

from chalicelib.services.identity import passwords
from tests.support.stack import Stack

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    def error_code(self) -> str | None:
        if isinstance(self.body, dict):
            return (self.body.get("error") or {}).get("code")
        return None


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    token: str | None = None


def send(stack: Stack, call: Call) -> Answer:
    """One request on a connection of its own (a Session is not shared between threads)."""
    headers = {"authorization": f"Bearer {call.token}"} if call.token else {}
    with requests.Session() as http:
        answer = http.request(
            call.method, stack.base_url + call.path, json=call.body, headers=headers, timeout=60
        )
    try:
        parsed = answer.json()
    except ValueError:
        parsed = answer.text
    return Answer(answer.status_code, parsed)


def together(stack: Stack, calls: list[Call]) -> list[Answer]:
    """Send the calls at once: each worker waits at a barrier until all are ready, then sends.
    The answers come back in the order of the calls; none may be a 5xx."""
    barrier = threading.Barrier(len(calls))

    def run(call: Call) -> Answer:
        barrier.wait(timeout=30)
        return send(stack, call)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        answers = list(pool.map(run, calls))
    server_errors = [(a.status, a.body) for a in answers if a.status >= 500]
    assert not server_errors, f"5xx answers under concurrency: {server_errors}"
    return answers


def tally(answers: list[Answer]) -> dict[tuple[int, str | None], int]:
    counts: dict[tuple[int, str | None], int] = {}
    for answer in answers:
        key = (answer.status, answer.error_code())
        counts[key] = counts.get(key, 0) + 1
    return counts


def unexpected(answers: list[Answer], status: int) -> list[Any]:
    """The bodies of answers other than `status`, for an assertion's message."""
    return [(a.status, a.body) for a in answers if a.status != status]


def fresh(label: str) -> str:
    return f"{label}-{secrets.token_hex(4)}"


def at_once(work: Callable[[int], T], n: int) -> list[T]:
    """Run `work(0)` … `work(n - 1)` in n threads released together by a barrier, in process;
    the results in that order."""
    barrier = threading.Barrier(n)

    def run(index: int) -> T:
        barrier.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def count_verifications(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every Argon2 password verification from now on (R52: what a throttle must bound),
    recorded with its outcome."""
    verify = passwords.verify
    seen: list[bool] = []

    def counting(password_hash: str | None, password: str) -> bool:
        matched = verify(password_hash, password)
        seen.append(matched)
        return matched

    monkeypatch.setattr(passwords, "verify", counting)
    return seen
