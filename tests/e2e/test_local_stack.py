"""`make run` as a person uses it: the stack with its demo data, then Ctrl-C (R2, R3).

The session's one stack is started as `make run` starts it, with the demo data; the other
end-to-end tests make practices of their own beside it. The last test of the session stops it
with SIGINT to its process group, as Ctrl-C in a terminal does (tests/e2e/conftest.py runs it
last).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from scripts.demo_data import PASSWORD
from scripts.local_stack import STOP_KILLED
from tests.support.stack import STOP_SECONDS, Stack, group_members, port_is_free

pytestmark = pytest.mark.e2e


def sign_in(stack: Stack, email: str) -> dict[str, Any]:
    answer = stack.call("POST", "/v1/auth/login", {"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()


def shown(accounts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((account["kind"], account["org"]["slug"]) for account in accounts)


def test_demo_client_of_two_practices_chooses_an_account_and_enters_it(
    stack: Stack,
) -> None:
    """R2, R3: Maya, a client of Evergreen and Harbor, chooses an account after signing in.

    GIVEN the demo data  WHEN Maya signs in  THEN no account is entered and both client
    accounts are listed; WHEN she switches to Harbor  THEN /v1/me shows her in Harbor.
    """
    signed_in = sign_in(stack, "maya@example.com")
    assert signed_in["account"] is None
    assert shown(signed_in["accounts"]) == [("client", "evergreen"), ("client", "harbor")]

    harbor = next(a for a in signed_in["accounts"] if a["org"]["slug"] == "harbor")
    switched = stack.call(
        "POST", "/v1/auth/switch", {"account_id": harbor["account_id"]}, signed_in["token"]
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["account"]["account_id"] == harbor["account_id"]

    me = stack.call("GET", "/v1/me", token=switched.json()["token"])
    assert me.status_code == 200, me.text
    assert me.json()["identity"]["email"] == "maya@example.com"
    assert me.json()["account"]["account_id"] == harbor["account_id"]
    assert me.json()["account"]["client_id"] == harbor["client_id"]


def test_demo_provider_who_is_a_client_elsewhere_sees_both_accounts(stack: Stack) -> None:
    """R2: one login lists staff and client accounts together.

    GIVEN the demo data  WHEN Dr. Lee (provider at Evergreen, client at Harbor) signs in
    THEN the list holds one staff and one client account, and none is entered yet.
    """
    signed_in = sign_in(stack, "lee@evergreen.example")
    assert signed_in["account"] is None
    assert shown(signed_in["accounts"]) == [("client", "harbor"), ("staff", "evergreen")]
    staff = next(a for a in signed_in["accounts"] if a["kind"] == "staff")
    assert staff["role"] == "provider"


def live_processes() -> dict[int, int]:
    """Every live process (zombies excluded) and its parent, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> set[int]:
    parents = live_processes()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_a_booking_reaches_the_local_outbox_without_anyone_draining(stack: Stack) -> None:
    """R34, R39, R40: `make run` feeds the queue to the worker as SQS would.

    GIVEN the demo stack  WHEN Evergreen's admin books Maya  THEN within seconds her branded
    confirmation is in the local outbox, without any call to /_local/drain.
    """
    admin = sign_in(stack, "admin@evergreen.example")
    org_id = admin["account"]["org"]["id"]
    token = admin["token"]
    clients = stack.call("GET", f"/v1/orgs/{org_id}/clients", token=token).json()["clients"]
    maya = next(c for c in clients if c["email"] == "maya@example.com")
    provider = maya["primary_provider_id"]
    booked = stack.call(
        "POST",
        f"/v1/orgs/{org_id}/appointments",
        {
            "provider_id": provider,
            "client_ids": [maya["id"]],
            "minutes": 50,
            "starts_at": "2099-03-01T15:00:00Z",
            "type": "Follow-up",
        },
        token,
    )
    assert booked.status_code == 201, booked.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sent = stack.call("GET", "/_local/outbox.json").json()
        if any(
            e["to"] == "maya@example.com" and e["kind"] == "appointment_confirmation" for e in sent
        ):
            break
        time.sleep(0.5)
    else:
        pytest.fail("the confirmation never reached the outbox")
    email = next(e for e in sent if e["to"] == "maya@example.com")
    assert "Evergreen Wellness" in email["html"]
    assert "Harbor" not in email["html"]
    page = stack.call("GET", "/_local/outbox")
    assert email["subject"] in page.text


@pytest.mark.stops_the_stack
def test_ctrl_c_stops_the_whole_stack_and_frees_its_ports(stack: Stack) -> None:
    """`make run`: Ctrl-C stops the API server and moto; nothing is left running.

    GIVEN a serving stack  WHEN its process group gets SIGINT (what Ctrl-C sends)
    THEN within 15 s it has exited cleanly, no process of it remains, and both ports are free.
    """
    children = descendants(stack.process.pid)
    assert children, "the stack runs `chalice local` as a child process"
    assert not port_is_free(stack.port)
    assert not port_is_free(stack.moto_port)

    deadline = time.monotonic() + STOP_SECONDS
    stack.signal_group(signal.SIGINT)
    exit_code = stack.process.wait(timeout=STOP_SECONDS)
    while (children & live_processes().keys() or group_members(stack.pgid)) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)

    assert exit_code == 0, stack.log()[-3000:]
    assert STOP_KILLED not in stack.log()  # it stopped by itself, not by a timeout's kill
    assert children & live_processes().keys() == set()
    assert group_members(stack.pgid) == []
    assert port_is_free(stack.port)
    assert port_is_free(stack.moto_port)
