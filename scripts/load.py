"""`make load`: a bounded load test of the real local stack, with AWS faults part of the time,
and a reconciliation after it (issue #18, R39, R41, R42).

Starts `python -m scripts.local_stack` on loopback ports (or uses `--base-url`), builds a
practice, then runs a mix from a few threads until `--requests` or `--seconds` runs out:
sign-ins that meet the account chooser and switch accounts, client lists and searches, client
adds with invites, bookings, portal reads, and a burst of group sign-ups. During the middle
third the stack's fault switch (`POST /_local/faults`) fails a share of DynamoDB calls
(throttling), SES sends and SQS sends. Then the faults stop, the stack's triggers run until
no email job is open, and the reconciliation checks that every accepted write is there exactly
once and every email job ended sent, suppressed or dead, none sent twice (SES's count).

Reports requests per second, p50/p99 of the handler's in-process time (the local stage's
`Server-Timing` header), the 5xx count and the reconciliation. Exits 1 on any 5xx or any
reconciliation difference.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

PASSWORD = "correct horse battery"  # noqa: S105 (the local stack's test logins)
FAULTS = {"dynamodb": 0.01, "ses": 0.3, "sqs": 0.3}
TIMING = re.compile(r"app;dur=([0-9.]+)")
ENDED = {"sent", "suppressed", "dead"}


@dataclass
class Tally:
    """What the run saw: each answer's status and handler time, and the writes accepted."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[str] = field(default_factory=Counter)
    handler_ms: list[float] = field(default_factory=list)
    handler_ms_by_name: dict[str, list[float]] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    clients: list[str] = field(default_factory=list)
    appointments: list[str] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)
    count: int = 0

    def seen(self, name: str, answer: requests.Response) -> None:
        with self.lock:
            self.count += 1
            self.statuses[f"{name} {answer.status_code}"] += 1
            found = TIMING.search(answer.headers.get("Server-Timing", ""))
            if found:
                self.handler_ms.append(float(found.group(1)))
                self.handler_ms_by_name.setdefault(name, []).append(float(found.group(1)))
            if answer.status_code >= 500:
                self.server_errors.append(f"{name} {answer.status_code} {answer.text[:200]}")


class Load:
    """One run against `base_url`: the practice it builds and the mix it drives."""

    def __init__(self, base_url: str, seed: int) -> None:
        self.base = base_url.rstrip("/")
        self.tally = Tally()
        self.random = random.Random(seed)  # noqa: S311 (a mix, not a secret)
        self.local = threading.local()
        self.slug = f"load-{uuid.uuid4().hex[:10]}"

    # HTTP -------------------------------------------------------------------------------

    def http(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        session: requests.Session = self.local.session
        return session

    def call(
        self, name: str, method: str, path: str, body: Any = None, token: str | None = None
    ) -> requests.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        answer = self.http().request(
            method, self.base + path, json=body, headers=headers, timeout=60
        )
        self.tally.seen(name, answer)
        return answer

    # Set-up -----------------------------------------------------------------------------

    def practice(self, slug: str) -> tuple[str, str]:
        made = self.call(
            "sign_up",
            "POST",
            "/v1/orgs",
            {
                "name": f"Load {slug}",
                "slug": slug,
                "admin": {
                    "email": f"admin@{slug}.example",
                    "password": PASSWORD,
                    "first_name": "Ada",
                    "last_name": "Admin",
                },
            },
        )
        assert made.status_code == 201, made.text
        return made.json()["org"]["id"], made.json()["token"]

    def set_up(self) -> None:
        self.org_id, self.token = self.practice(self.slug)
        other_id, other_token = self.practice(f"{self.slug}-b")
        providers = self.call(
            "providers", "GET", f"/v1/orgs/{self.org_id}/providers", token=self.token
        )
        self.provider_id = providers.json()["providers"][0]["id"]
        # A client of both practices, whose login meets the account chooser (R2, R3): invited
        # by the first, the invite accepted through its page (the password proven, R50).
        self.client_email = f"both-{uuid.uuid4().hex[:10]}@example.com"
        for org_id, token, invite in (
            (self.org_id, self.token, True),
            (other_id, other_token, False),
        ):
            added = self.call(
                "add_client",
                "POST",
                f"/v1/orgs/{org_id}/clients",
                {
                    "first_name": "Bo",
                    "last_name": "Both",
                    "email": self.client_email,
                    "send_invite": invite,
                },
                token,
            )
            assert added.status_code == 201, added.text
            if org_id == self.org_id:
                self.tally.clients.append(added.json()["client"]["id"])
        self.accept_invite(self.client_email)
        group = self.call(
            "group", "POST", f"/v1/orgs/{self.org_id}/groups", {"name": "Load class"}, self.token
        )
        assert group.status_code == 201, group.text
        self.join_url = group.json()["group"]["invite_url"]
        # The page once before its burst: its first use (templates, the CSS inliner) is a cold
        # start's cost, which twenty threads paying at once would turn into the burst's figure.
        self.tally.seen("page", requests.get(self.join_url, timeout=60))

    def accept_invite(self, email: str) -> None:
        deadline = time.monotonic() + 30
        link = None
        while link is None and time.monotonic() < deadline:
            self.http().post(f"{self.base}/_local/drain", timeout=60)
            for sent in self.http().get(f"{self.base}/_local/outbox.json", timeout=60).json():
                if sent["to"] == email and sent["kind"] == "invite":
                    link = re.search(r"(http://\S+/invite/\S+)", sent["text"])
        assert link is not None, f"no invite reached {email}"
        answer = self.form(link.group(1), {"password": PASSWORD, "confirm": PASSWORD})
        assert answer.status_code == 303, answer.text[:500]

    def form(self, url: str, values: dict[str, str]) -> requests.Response:
        """A page's form posted as a browser would: its hidden CSRF field and cookie (the
        cookie is `__Host-`, Secure, which requests sends over https only: sent by hand)."""
        http = requests.Session()
        page = http.get(url, timeout=60)
        self.tally.seen("page", page)
        hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        cookie = "; ".join(f"{c.name}={c.value}" for c in page.cookies)
        answer = http.post(
            url,
            data={**hidden, **values},
            headers={"cookie": cookie},
            timeout=60,
            allow_redirects=False,
        )
        self.tally.seen("form", answer)
        return answer

    # The mix ----------------------------------------------------------------------------

    def sign_in(self) -> None:
        """R2, R3: the client's login lists its two accounts; choose one, read the portal,
        switch to the other and read it there."""
        signed = self.call(
            "login", "POST", "/v1/auth/login", {"email": self.client_email, "password": PASSWORD}
        )
        if signed.status_code != 200:
            return
        token = signed.json()["token"]
        for account in signed.json()["accounts"]:
            entered = self.call(
                "switch", "POST", "/v1/auth/switch", {"account_id": account["account_id"]}, token
            )
            if entered.status_code != 200:
                return
            token = entered.json()["token"]
            self.call("portal", "GET", "/v1/portal/profile", token=token)
            self.call("portal", "GET", "/v1/portal/appointments", token=token)

    def list_clients(self) -> None:
        query = self.random.choice(["", "?q=Lo", "?q=Ada", "?limit=20"])
        self.call("clients", "GET", f"/v1/orgs/{self.org_id}/clients{query}", token=self.token)

    def add_client(self) -> None:
        """R13: a client with an email gets an invite, queued with the write (R39)."""
        answer = self.call(
            "add_client",
            "POST",
            f"/v1/orgs/{self.org_id}/clients",
            {
                "first_name": self.random.choice(["Lou", "Lola", "Maya", "Noor"]),
                "last_name": "Load",
                "email": f"c-{uuid.uuid4().hex[:12]}@example.com",
            },
            self.token,
        )
        if answer.status_code == 201:
            with self.tally.lock:
                self.tally.clients.append(answer.json()["client"]["id"])

    def book(self) -> None:
        with self.tally.lock:
            client_id = self.random.choice(self.tally.clients)
        starts = datetime.now(UTC) + timedelta(days=30, minutes=self.random.randrange(10_000))
        answer = self.call(
            "book",
            "POST",
            f"/v1/orgs/{self.org_id}/appointments",
            {
                "provider_id": self.provider_id,
                "client_ids": [client_id],
                "starts_at": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "minutes": 50,
                "type": "Visit",
            },
            self.token,
        )
        if answer.status_code == 201:
            with self.tally.lock:
                self.tally.appointments.append(answer.json()["appointment"]["id"])

    def email_log(self) -> None:
        self.call("emails", "GET", f"/v1/orgs/{self.org_id}/emails?limit=20", token=self.token)

    def join(self) -> None:
        """R16, R51: one group sign-up through the HTML form, as a browser sends it."""
        email = f"j-{uuid.uuid4().hex[:12]}@example.com"
        answer = self.form(
            self.join_url,
            {
                "first_name": "Jo",
                "last_name": "Join",
                "email": email,
                "password": PASSWORD,
                "password_confirm": PASSWORD,
            },
        )
        if answer.status_code == 200 and "Check your email" in answer.text:
            with self.tally.lock:
                self.tally.joined.append(email)

    def work_the_queue(self) -> None:
        """The worker, in the API's process (where the fault switch acts), as SQS would run
        it; not counted as a request (the stack's own feeder drains too, without faults)."""
        self.http().post(f"{self.base}/_local/drain", timeout=120)

    MIX: tuple[tuple[str, int], ...] = (
        ("sign_in", 20),
        ("list_clients", 25),
        ("add_client", 20),
        ("book", 15),
        ("email_log", 10),
        ("work_the_queue", 5),
    )

    def pick(self) -> Callable[[], None]:
        names, weights = zip(*self.MIX, strict=True)
        with self.tally.lock:
            name = self.random.choices(names, weights)[0]
        action: Callable[[], None] = getattr(self, name)
        return action

    def faults(self, rates: dict[str, float]) -> dict[str, Any]:
        answer = self.http().post(f"{self.base}/_local/faults", json=rates, timeout=60)
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    # The run ----------------------------------------------------------------------------

    def run(
        self,
        max_requests: int,
        seconds: float,
        workers: int,
        burst: int,
        faults: dict[str, float],
    ) -> dict[str, Any]:
        self.set_up()
        injected_before = Counter(self.faults(dict.fromkeys(faults, 0.0))["injected"])
        started = time.monotonic()
        state: dict[str, Any] = {"faults": False, "burst": False, "injected": {}}
        lock = threading.Lock()

        def progress() -> float:
            """How far the run is, by requests or by time, whichever is further."""
            return max(self.tally.count / max_requests, (time.monotonic() - started) / seconds)

        def step() -> None:
            while progress() < 1:
                done = progress()
                with lock:
                    if not state["faults"] and 1 / 3 <= done < 2 / 3:
                        state["faults"] = True
                        self.faults(faults)
                    elif state["faults"] and done >= 2 / 3:
                        state["faults"] = False
                        state["injected"] = self.faults(dict.fromkeys(faults, 0.0))["injected"]
                    fire_burst = not state["burst"] and done >= 1 / 2
                    if fire_burst:
                        state["burst"] = True
                if fire_burst:
                    with ThreadPoolExecutor(max_workers=burst) as group:
                        list(group.map(lambda _: self.join(), range(burst)))
                self.pick()()

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(step) for _ in range(workers)]:
                future.result()
        elapsed = time.monotonic() - started
        if state["faults"]:
            state["injected"] = self.faults(dict.fromkeys(faults, 0.0))["injected"]
        times = sorted(self.tally.handler_ms)
        by_name = {
            name: {"p50": round(statistics.median(ms), 1), "p99": percentile(ms, 0.99)}
            for name, ms in sorted(self.tally.handler_ms_by_name.items())
        }
        return {
            "requests": self.tally.count,
            "seconds": round(elapsed, 2),
            "requests_per_second": round(self.tally.count / elapsed, 1),
            "handler_ms_p50": round(statistics.median(times), 1) if times else None,
            "handler_ms_p99": percentile(times, 0.99) if times else None,
            "handler_ms_by_request": by_name,
            "server_errors": len(self.tally.server_errors),
            "server_error_samples": self.tally.server_errors[:5],
            "faults_injected": dict(Counter(state["injected"]) - injected_before),
            "statuses": dict(sorted(self.tally.statuses.items())),
        }

    # Reconciliation ---------------------------------------------------------------------

    def pages(self, path: str, key: str) -> list[dict[str, Any]]:
        found, cursor = [], None
        while True:
            joiner = "&" if "?" in path else "?"
            query = f"{joiner}limit=100" + (f"&cursor={cursor}" if cursor else "")
            answer = self.http().get(
                f"{self.base}{path}{query}",
                headers={"authorization": f"Bearer {self.token}"},
                timeout=60,
            )
            answer.raise_for_status()
            body = answer.json()
            found += body[key]
            if not (cursor := body.get("next_cursor")):
                return found

    def settle(self, seconds: float = 60) -> list[dict[str, Any]]:
        """Run the triggers (as if the sweep's delay had passed) until no job is open."""
        deadline = time.monotonic() + seconds
        later = (datetime.now(UTC) + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
        while True:
            self.http().post(f"{self.base}/_local/tick", json={"now": later}, timeout=120)
            emails = self.pages(f"/v1/orgs/{self.org_id}/emails", "emails")
            if all(e["status"] in ENDED for e in emails) or time.monotonic() > deadline:
                return emails

    def reconcile(self, ses_sent: Callable[[], int], ses_before: int) -> dict[str, Any]:
        emails = self.settle()
        clients = Counter(c["id"] for c in self.pages(f"/v1/orgs/{self.org_id}/clients", "clients"))
        booked = Counter(
            a["id"] for a in self.pages(f"/v1/orgs/{self.org_id}/appointments", "appointments")
        )
        outbox = self.http().get(f"{self.base}/_local/outbox.json", timeout=60).json()
        confirmations = Counter(
            e["to"]
            for e in outbox
            if e["kind"] == "join_confirmation" and e["to"] in self.tally.joined
        )
        statuses = Counter(e["status"] for e in emails)
        sent_jobs = statuses["sent"]  # the sign-ups' confirmations are the practice's too
        ses = ses_sent() - ses_before
        differences = {
            "clients_missing": sum(1 for c in self.tally.clients if clients[c] == 0),
            "clients_twice": sum(1 for c in self.tally.clients if clients[c] > 1),
            "appointments_missing": sum(1 for a in self.tally.appointments if booked[a] == 0),
            "appointments_twice": sum(1 for a in self.tally.appointments if booked[a] > 1),
            "sign_ups_unconfirmed": sum(1 for j in self.tally.joined if confirmations[j] != 1),
            "email_jobs_open": sum(n for s, n in statuses.items() if s not in ENDED),
            "emails_sent_twice": max(ses - sent_jobs, 0),
            "emails_sent_not_recorded": max(sent_jobs - ses, 0),
        }
        return {
            "accepted": {
                "clients": len(self.tally.clients),
                "appointments": len(self.tally.appointments),
                "group_sign_ups": len(self.tally.joined),
            },
            "email_jobs": dict(statuses),
            "ses_sent": ses,
            "differences": differences,
            "total_differences": sum(differences.values()),
        }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, min(len(ordered) - 1, int(len(ordered) * share)))], 1)


def moto_ses_count(moto_url: str) -> Callable[[], int]:
    import boto3  # noqa: PLC0415 (only the reconciliation reads moto behind the API)

    ses = boto3.client(
        "ses",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 (moto's)
    )
    return lambda: int(ses.get_send_quota()["SentLast24Hours"])


def drained(base_url: str) -> None:
    requests.post(f"{base_url}/_local/drain", timeout=120).raise_for_status()


def run_against(
    base_url: str,
    moto_url: str,
    *,
    max_requests: int,
    seconds: float,
    workers: int = 4,
    burst: int = 10,
    seed: int = 18,
    faults: dict[str, float] | None = None,
) -> dict[str, Any]:
    """One load run and its reconciliation against a running stack (the e2e test's entry)."""
    drained(base_url)  # what other work left queued is not this run's
    ses_sent = moto_ses_count(moto_url)
    before = ses_sent()
    load = Load(base_url, seed)
    report = load.run(max_requests, seconds, workers, burst, faults or FAULTS)
    report["reconciliation"] = load.reconcile(ses_sent, before)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="at most this many requests")
    parser.add_argument("--seconds", type=float, default=120, help="at most this long")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--burst", type=int, default=20, help="group sign-ups at once")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()

    os.environ.setdefault("PORTICO_STAGE", "local")  # what the stack runner's imports read
    from tests.support.stack import start_stack  # noqa: PLC0415 (the e2e tests' stack runner)

    stack = start_stack(Path(tempfile.mkdtemp(prefix="portico-load-")), demo=False)
    try:
        report = run_against(
            stack.base_url,
            stack.moto_url,
            max_requests=args.requests,
            seconds=args.seconds,
            workers=args.workers,
            burst=args.burst,
            seed=args.seed,
        )
    finally:
        stack.stop()
    print(json.dumps(report, indent=2))
    failed = report["server_errors"] or report["reconciliation"]["total_differences"]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
