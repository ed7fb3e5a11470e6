"""The real local stack (`python -m scripts.local_stack`) in a subprocess.

The stack runs in its own process group, as `make run` would in a terminal, so that a test can
stop it the way a person does (SIGINT to the group, as Ctrl-C) or the way a supervisor does
(SIGTERM). Tests talk to it over HTTP only, and read DynamoDB straight from moto's server when
a rule is about what is stored (one identity per email, R1).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from tests.support.api import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
TABLE_PREFIX = "portico-local"  # scripts/local_stack.py: stack_environment
START_SECONDS = 90
STOP_SECONDS = 15


def free_port() -> int:
    """A loopback port nothing listens on now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True if a server could listen on the port again. SO_REUSEADDR as every server sets it,
    so connections the stopped server left in TIME_WAIT do not count, only a live listener."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen(1)
        except OSError:
            return False
        return True


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group, read from /proc (zombies count as gone)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


class Visitor:
    """A person's browser on the landing pages, over HTTP: it keeps each page's cookies and
    sends them back, as Chromium does on the local stack's http://127.0.0.1 (a potentially
    trustworthy origin). requests keeps the pages' `__Host-` cookie but, being Secure, sends it
    over https only, so this sends it itself."""

    def __init__(self) -> None:
        self.http = requests.Session()
        self.cookies: dict[str, str] = {}

    def get(self, url: str, **options: Any) -> requests.Response:
        return self._keep(self.http.get(url, headers=self._headers(), **options))

    def post(self, url: str, **options: Any) -> requests.Response:
        return self._keep(self.http.post(url, headers=self._headers(), **options))

    def _headers(self) -> dict[str, str]:
        return {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _keep(self, answer: requests.Response) -> requests.Response:
        self.cookies.update({cookie.name: cookie.value or "" for cookie in answer.cookies})
        return answer


@dataclass
class Stack:
    """One running local stack: where it answers, its process group, its log."""

    process: subprocess.Popen[bytes]
    port: int
    moto_port: int
    log_path: Path
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def pgid(self) -> int:
        return self.process.pid  # start_new_session: the stack leads its own group

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> requests.Response:
        """One request on the shared keep-alive session (sequential set-up and checks)."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return self.http.request(
            method, self.base_url + path, json=body, headers=headers, timeout=60
        )

    def client(self, service: str) -> Any:
        """A boto3 client of this stack's moto server (to look behind the API)."""
        return boto3.client(service, **self._moto())

    def table(self, name: str) -> Any:
        """A boto3 Table of this stack, read straight from moto's server."""
        return boto3.resource("dynamodb", **self._moto()).Table(f"{TABLE_PREFIX}-{name}")

    def _moto(self) -> dict[str, str]:
        return {
            "endpoint_url": self.moto_url,
            "region_name": "us-east-1",
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",
        }

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signum)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Ask the whole group to stop; kill it if it has not within STOP_SECONDS."""
        self.http.close()
        if self.process.poll() is None:
            self.signal_group(signum)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.process.wait(timeout=5)
        if group_members(self.pgid):  # the leader is gone; its children must not linger
            self.signal_group(signal.SIGKILL)


def start_stack(log_dir: Path, *, demo: bool) -> Stack:
    """Start `python -m scripts.local_stack` on two free ports and wait until it serves."""
    port, moto_port = free_port(), free_port()
    while moto_port == port:
        moto_port = free_port()
    log_path = log_dir / f"stack-{port}.log"
    command = [
        sys.executable,
        "-m",
        "scripts.local_stack",
        "--port",
        str(port),
        "--moto-port",
        str(moto_port),
    ]
    if not demo:
        command.append("--no-demo")
    # The stack sets its own endpoints, credentials and table prefix (stack_environment). The
    # password hash keeps its algorithm at the test suite's lower cost, so twenty concurrent
    # sign-ups on two cores fit the time budget (chalicelib/config.py: PASSWORD_HASH_COST).
    env = {**os.environ, "PASSWORD_HASH_COST": "low", "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(process, port, moto_port, log_path)
    try:
        _wait_until_serving(stack)
    except BaseException:
        stack.stop()
        raise
    return stack


def _wait_until_serving(stack: Stack) -> None:
    """Until `GET /v1/me` answers 401 and the stack says it serves (demo data loaded)."""
    deadline = time.monotonic() + START_SECONDS
    answered = False
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            pytest.fail(f"the local stack exited with {stack.process.returncode}:\n{stack.log()}")
        if not answered:
            try:
                status = requests.get(f"{stack.base_url}/v1/me", timeout=2).status_code
                assert status == 401, f"GET /v1/me answered {status} without a session"
                answered = True
            except requests.ConnectionError:
                pass
        if answered and "Portico is serving" in stack.log():
            return
        time.sleep(0.2)
    pytest.fail(f"the local stack did not serve within {START_SECONDS} s:\n{stack.log()}")


# Browser (DESIGN "Running it here"): Playwright driving Debian's Chromium --------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save the page as artifacts/screenshots/<name>.png (gitignored) for a person to look at:
    the whole page, or what the window shows (`full_page=False`, for pages many screens long)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def found_in(pattern: str, text: str) -> str:
    """The first group of `pattern` where it first occurs in `text` (a link in an email, a form's
    field in a page); fails the test when the text does not have it."""
    found = re.search(pattern, text)
    if found is None:
        pytest.fail(f"{pattern!r} is not in {text[:500]!r}")
    return found.group(1)


def wait_for_email(
    stack: Stack, to: str, kind: str, *, count: int = 1, seconds: float = 20
) -> list[dict[str, Any]]:
    """The emails of `kind` sent to `to`, once at least `count` are in the local outbox (the
    stack's feeder drains the queue every second; draining here only hurries it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stack.call("POST", "/_local/drain")
        sent = [
            email
            for email in stack.call("GET", "/_local/outbox.json").json()
            if email["to"] == to and email["kind"] == kind
        ]
        if len(sent) >= count:
            return sent
        time.sleep(0.3)
    pytest.fail(f"no {kind} email to {to} within {seconds} s")


def branded_practice(stack: Stack) -> tuple[str, str]:
    """A new practice with its own branding, signed up over HTTP: (org id, admin token)."""
    slug = f"p-{uuid.uuid4().hex[:10]}"
    answer = stack.call(
        "POST",
        "/v1/orgs",
        {
            "name": f"Sunrise {slug}",
            "slug": slug,
            "admin": {
                "email": f"admin@{slug}.example",
                "password": PASSWORD,
                "first_name": "Ada",
                "last_name": "Admin",
            },
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    org_id, token = body["org"]["id"], body["token"]
    stack.call(
        "PATCH",
        f"/v1/orgs/{org_id}",
        {"branding": {"display_name": "Sunrise Physio", "primary_color": "#7a3e9d"}},
        token,
    )
    return org_id, token


WIDTHS = (390, 1280)  # a phone's width and a desktop's


def screenshots(page: Any, name: str) -> list[Path]:
    """The page at each of WIDTHS as artifacts/screenshots/<name>-<width>.png; fails the test
    when the page scrolls sideways at that width (it must work on a phone)."""
    taken = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844 if width < 600 else 800})
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{name} is {wide} px wide at a {width} px viewport"
        taken.append(screenshot(page, f"{name}-{width}"))
    return taken
