"""`make bench`: DynamoDB round trips and items read per API call, small organization vs large,
and the cold import of `app` against a bare Chalice app with the same libraries.

Round trips (DESIGN "Data"): each call in `CALLS` runs through the app (chalice.test.Client,
moto in process) in an organization of N clients, for each N of `--sizes` (10 and 10,000 by
default). The large organization is seeded straight into the profiles table with batch writes,
not through the API. DynamoDB calls are counted at botocore's one door
(`BaseClient._make_api_call`, as tests/conftest.py's `dynamo_calls`), and items read are counted
from the answers: GetItem's Item, BatchGetItem's Responses, Query's ScannedCount. Sequential
round trips are the waits a caller sees: a BatchGetItem is one, and the reads of one
`db.together` call (issued at once on threads) cost as many as the longest of them
(`sequential_round_trips`). The run exits 1
if any call makes more round trips or reads more items in a larger organization.

Cold import: `import app` in fresh interpreters against a bare `Chalice()` app that imports
the same libraries (`--imports` repetitions each, median, one ratio from one run), both from
compiled bytecode (what the packaged zip ships, scripts/package.py) and compiling Portico's own
source (Lambda cannot cache bytecode in its read-only /var/task).

To measure a new route, add a `Call` to `CALLS`: its name, what it sends, and (optionally) what
it needs prepared outside the count.

    .venv/bin/python -m scripts.bench [--sizes 10 10000] [--reps 3] [--imports 7] [--json PATH]
"""

from __future__ import annotations

from scripts import in_process  # noqa: F401 (first: the environment chalicelib reads)

# isort: split
import argparse
import collections
import itertools
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import botocore.client
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import aws, clock, db, ids, infra, sealing
from chalicelib.db import Tx
from chalicelib.models.emails import OPEN, EmailJob
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.search import ClientSearchEntry
from chalicelib.services.clients import search
from chalicelib.services.identity import handover, identities, passwords
from scripts import bench_cold, interpreters
from scripts.moto_answers import plain_dynamodb_answers
from scripts.moto_journal import undo_by_item

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"  # noqa: S105 (the bench's own practice)
ADMIN = "admin@evergreen.example"


class BenchFailed(Exception):
    """A call failed or grew with the organization: the figures mean nothing then."""


# Counting DynamoDB round trips and items read ---------------------------------------------------


def items_read(operation: str, answer: dict[str, Any]) -> int:
    if operation == "GetItem":
        return 1 if "Item" in answer else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in answer.get("Responses", {}).values())
    if operation in ("Query", "Scan"):
        return int(answer.get("ScannedCount", answer.get("Count", 0)))
    if operation == "TransactGetItems":
        return len(answer.get("Responses", []))
    return 0


@dataclass
class Counted:
    round_trips: int = 0
    items_read: int = 0
    operations: list[str] = field(default_factory=list)
    lanes: list[db.Lane] = field(default_factory=list)

    @property
    def sequential_round_trips(self) -> int:
        """Round trips one after another, the waits a caller sees (issue #17): the reads of
        one `db.together` call are issued at once, so they cost as many waits as the longest
        of them; every other call is one wait (a BatchGetItem is one call already)."""
        return waits(self.lanes)


def waits(lanes: list[db.Lane], depth: int = 0) -> int:
    """The waits of calls made in these lanes (`db.lane()`), `depth` steps in: a call at this
    depth is one; the reads of one `together` call cost the most any of them costs."""
    alone = sum(1 for lane in lanes if len(lane) == depth)
    by_read: dict[tuple[int, int], list[db.Lane]] = collections.defaultdict(list)
    for lane in lanes:
        if len(lane) > depth:
            by_read[lane[depth]].append(lane)
    longest: dict[int, int] = {}
    for (wave, _), inner in by_read.items():
        longest[wave] = max(longest.get(wave, 0), waits(inner, depth + 1))
    return alone + sum(longest.values())


class DynamoCounter:
    def __init__(self) -> None:
        self.now: Counted | None = None
        self._lock = threading.Lock()
        original = botocore.client.BaseClient._make_api_call
        counter = self

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            answer = original(client, operation, params)
            now = counter.now
            if now is not None and client.meta.service_model.service_name == "dynamodb":
                with counter._lock:  # reads issued together finish on several threads
                    now.round_trips += 1
                    now.items_read += items_read(operation, answer)
                    now.operations.append(operation)
                    now.lanes.append(db.lane())
            return answer

        botocore.client.BaseClient._make_api_call = counted

    @contextmanager
    def counting(self) -> Iterator[Counted]:
        self.now = Counted()
        try:
            yield self.now
        finally:
            self.now = None


# The organization under test -------------------------------------------------------------------


class Api:
    def __init__(self, client: Client) -> None:
        self.client = client

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        payload = json.dumps(body) if body is not None else b""
        answer = getattr(self.client.http, method.lower())(path, headers=headers, body=payload)
        if answer.status_code >= 400:
            raise BenchFailed(f"{method} {path} answered {answer.status_code} {answer.body!r}")
        return json.loads(answer.body) if answer.body else {}


@dataclass
class Org:
    """A practice whose admin is also admin of a second practice (so switching is real), with
    `size` clients; `spare` lists seeded clients not yet used by a call that changes one."""

    api: Api
    org_id: str
    provider_id: str
    account_id: str
    size: int
    spare: list[str] = field(default_factory=list)
    made: int = 0

    def token(self) -> str:
        """A fresh session entered in the practice's staff account."""
        chooser = self.api.call("POST", "/v1/auth/login", {"email": ADMIN, "password": PASSWORD})
        switched = self.api.call(
            "POST", "/v1/auth/switch", {"account_id": self.account_id}, chooser["token"]
        )
        return switched["token"]

    def chooser(self) -> str:
        """A fresh session that has not entered an account yet (two accounts: R2)."""
        return self.api.call("POST", "/v1/auth/login", {"email": ADMIN, "password": PASSWORD})[
            "token"
        ]

    def next_email(self) -> str:
        self.made += 1
        return f"new{self.made:04d}@bench.example"


def sign_up(api: Api, slug: str) -> dict[str, Any]:
    return api.call(
        "POST",
        "/v1/orgs",
        {
            "name": f"Practice {slug}",
            "slug": slug,
            "admin": {"email": ADMIN, "password": PASSWORD, "first_name": "A", "last_name": "B"},
        },
    )


def prove_mailbox(email: str) -> None:
    """The login's password as a reset link would set it: proven through the mailbox (R50)."""
    identity = identities.find_by_email(email)
    assert identity is not None
    tx = Tx()
    identities.prove_mailbox(tx, identity, password_hash=passwords.hash_password(PASSWORD))
    tx.commit()


def seed_clients(org_id: str, provider_id: str, count: int) -> list[str]:
    """`count` active client profiles written straight to the table, 25 a BatchWriteItem, and
    their search entries (R55) to theirs."""
    moment = clock.now()
    client_ids = []
    with ClientProfile.batch_write() as batch, ClientSearchEntry.batch_write() as entries:
        for n in range(count):
            profile = ClientProfile(
                org_id,
                ids.new_id("cl"),
                email=f"client{n:05d}@bench.example",
                first_name=f"First{n % 97}",
                last_name=f"Client {n:05d}",
                primary_provider_id=provider_id,
                created_at=moment,
                updated_at=moment,
                version=1,
            )
            for entry in search.entries(profile):
                entries.save(entry)
            profile.before_save()
            batch.save(profile)
            client_ids.append(profile.client_id)
    return client_ids


def set_up(api: Api, size: int) -> Org:
    first = sign_up(api, "evergreen")
    org_id = first["org"]["id"]
    me = api.call("GET", "/v1/me", token=first["token"])
    providers = api.call("GET", f"/v1/orgs/{org_id}/providers", token=first["token"])
    prove_mailbox(ADMIN)  # R50: a proven password may add a second practice to the login
    sign_up(api, "harbor")  # the admin now has two staff accounts: sign-in lists, switch enters
    provider_id = providers["providers"][0]["id"]
    spare = seed_clients(org_id, provider_id, size)
    return Org(api, org_id, provider_id, me["account"]["account_id"], size, spare)


# The calls measured: extend this table as routes arrive ------------------------------------------


@dataclass(frozen=True)
class Call:
    name: str
    # Run outside the count: sessions, a record to act on. Returns what `run` needs.
    prepare: Callable[[Org], dict[str, Any]]
    run: Callable[[Org, dict[str, Any]], Any]


def _staff(org: Org) -> dict[str, Any]:
    return {"token": org.token()}


def _staff_and_client(org: Org) -> dict[str, Any]:
    return {"token": org.token(), "client_id": org.spare.pop()}


def _new_client(org: Org, token: str, *, invite: bool) -> str:
    answer = org.api.call(
        "POST",
        f"/v1/orgs/{org.org_id}/clients",
        {
            "first_name": "Invited",
            "last_name": "Client",
            "email": org.next_email(),
            "send_invite": invite,
        },
        token,
    )
    return answer["client"]["id"]


def _staff_and_invited_client(org: Org) -> dict[str, Any]:
    """A new client with an invite: its timeline holds the invite, its email and the audit."""
    token = org.token()
    return {"token": token, "client_id": _new_client(org, token, invite=True)}


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _opened_invite(org: Org) -> dict[str, Any]:
    """A new client's invite page, opened (its CSRF cookie and token), ready to be accepted."""
    client_id = _new_client(org, org.token(), invite=True)
    (job,) = [
        j for j in EmailJob.by_client.query(f"{org.org_id}#{client_id}") if j.kind == "invite"
    ]
    return _opened_link(org, job)


def _opened_link(org: Org, job: EmailJob) -> dict[str, Any]:
    """The page of the link an unsent email job carries, opened: its CSRF cookie and token."""
    assert job.sealed_secret is not None  # R53: the link, sealed until the email is sent
    link = sealing.unseal(sealing.Sealed(job.sealed_secret, job.context["token_hash"]))
    path = urlsplit(link).path
    page = org.api.client.http.get(path)
    cookie = {k.lower(): v for k, v in page.headers.items()}["set-cookie"].split(";")[0]
    found = _CSRF.search(page.body.decode())
    assert found is not None, page.body[:300]
    return {"path": path, "cookie": cookie, "csrf": found.group(1)}


def _accept_invite(org: Org, p: dict[str, Any]) -> None:
    answer = org.api.client.http.post(
        p["path"],
        headers={"content-type": "application/x-www-form-urlencoded", "cookie": p["cookie"]},
        body=urlencode({"csrf_token": p["csrf"], "password": PASSWORD, "confirm": PASSWORD}),
    )
    if answer.status_code != 303:
        raise BenchFailed(f"accepting an invite answered {answer.status_code}")


def _new_provider(org: Org, token: str) -> str:
    """An invited provider (R49), its staff invite queued."""
    answer = org.api.call(
        "POST",
        f"/v1/orgs/{org.org_id}/providers",
        {"email": org.next_email(), "first_name": "New", "last_name": "Staff"},
        token,
    )
    return answer["provider"]["id"]


def _staff_and_new_provider(org: Org) -> dict[str, Any]:
    token = org.token()
    return {"token": token, "provider_id": _new_provider(org, token)}


def _opened_staff_invite(org: Org) -> dict[str, Any]:
    """A new provider's staff invite page, opened, ready to be accepted (R49)."""
    _new_provider(org, org.token())
    open_ids = [job.job_id for job in EmailJob.open_jobs.query(OPEN)]
    newest = max(
        (job for job in EmailJob.batch_get(open_ids) if job.kind == "staff_invite"),
        key=lambda job: job.created_at,
    )
    return _opened_link(org, newest)


def _provider_call(
    method: str, tail: str, body: Any = None
) -> Callable[[Org, dict[str, Any]], Any]:
    def run(org: Org, p: dict[str, Any]) -> Any:
        path = f"/v1/orgs/{org.org_id}/providers/{p['provider_id']}{tail}"
        return org.api.call(method, path, body, p["token"])

    return run


def _opened_sign_in(org: Org) -> dict[str, Any]:
    """The hosted sign-in page, opened (its CSRF cookie and token), ready to be posted (B9)."""
    page = org.api.client.http.get("/sign-in")
    cookie = {k.lower(): v for k, v in page.headers.items()}["set-cookie"].split(";")[0]
    found = _CSRF.search(page.body.decode())
    assert found is not None, page.body[:300]
    return {"cookie": cookie, "csrf": found.group(1)}


def _sign_in_page(org: Org, p: dict[str, Any]) -> None:
    answer = org.api.client.http.post(
        "/sign-in",
        headers={"content-type": "application/x-www-form-urlencoded", "cookie": p["cookie"]},
        body=urlencode({"csrf_token": p["csrf"], "email": ADMIN, "password": PASSWORD}),
    )
    if answer.status_code != 303:
        raise BenchFailed(f"the sign-in page answered {answer.status_code}")


def _handed_over(org: Org) -> dict[str, Any]:
    """A one-time code for a fresh session, as a hosted page hands it to the portal (B9)."""
    return {"code": handover.issue(org.token())}


CALLS: tuple[Call, ...] = (
    Call(
        "sign-in",
        lambda org: {},
        lambda org, p: org.api.call(
            "POST", "/v1/auth/login", {"email": ADMIN, "password": PASSWORD}
        ),
    ),
    Call(
        "switch",
        lambda org: {"token": org.chooser()},
        lambda org, p: org.api.call(
            "POST", "/v1/auth/switch", {"account_id": org.account_id}, p["token"]
        ),
    ),
    Call("me", _staff, lambda org, p: org.api.call("GET", "/v1/me", token=p["token"])),
    Call("sign-in page (two accounts: to the chooser)", _opened_sign_in, _sign_in_page),
    Call(
        "code exchange (the portal trades a page's code)",
        _handed_over,
        lambda org, p: org.api.call("POST", "/v1/auth/exchange", {"code": p["code"]}),
    ),
    Call(
        "client list (a page of 10)",
        _staff,
        lambda org, p: org.api.call(
            "GET", f"/v1/orgs/{org.org_id}/clients?limit=10", None, p["token"]
        ),
    ),
    Call(
        "client search (a page of 10)",
        _staff,
        lambda org, p: org.api.call(
            "GET", f"/v1/orgs/{org.org_id}/clients?q=client&limit=10", None, p["token"]
        ),
    ),
    Call(
        "client search, one found by email",
        _staff,
        lambda org, p: org.api.call(
            "GET", f"/v1/orgs/{org.org_id}/clients?q=client00003%40", None, p["token"]
        ),
    ),
    Call(
        "client search, every status (a page of 10)",
        _staff,
        lambda org, p: org.api.call(
            "GET", f"/v1/orgs/{org.org_id}/clients?q=client&status=all&limit=10", None, p["token"]
        ),
    ),
    Call(
        "client timeline (invite, email, audit)",
        _staff_and_invited_client,
        lambda org, p: org.api.call(
            "GET", f"/v1/orgs/{org.org_id}/clients/{p['client_id']}/timeline", None, p["token"]
        ),
    ),
    Call(
        "client get",
        _staff_and_invited_client,  # with its invite's status: the pointer and the token
        lambda org, p: org.api.call(
            "GET", f"/v1/orgs/{org.org_id}/clients/{p['client_id']}", None, p["token"]
        ),
    ),
    Call(
        "client create",
        _staff,
        lambda org, p: org.api.call(
            "POST",
            f"/v1/orgs/{org.org_id}/clients",
            {"first_name": "New", "last_name": "Client", "email": org.next_email()},
            p["token"],
        ),
    ),
    Call(
        "invite issue (a resend: the older link dies)",
        _staff_and_invited_client,
        lambda org, p: org.api.call(
            "POST", f"/v1/orgs/{org.org_id}/clients/{p['client_id']}/invite", None, p["token"]
        ),
    ),
    Call("invite redeem (the form, setting a password)", _opened_invite, _accept_invite),
    Call(
        "provider add (its staff invite queued)",
        _staff,
        lambda org, p: org.api.call(
            "POST",
            f"/v1/orgs/{org.org_id}/providers",
            {"email": org.next_email(), "first_name": "New", "last_name": "Staff"},
            p["token"],
        ),
    ),
    Call(
        "staff invite resend (the older link dies)",
        _staff_and_new_provider,
        _provider_call("POST", "/invite"),
    ),
    Call(
        "staff invite accept (the form, setting a password)", _opened_staff_invite, _accept_invite
    ),
    Call(
        "provider role change (to staff: its clients counted)",
        _staff_and_new_provider,
        _provider_call("PATCH", "", {"role": "staff"}),
    ),
    Call(
        "provider deactivate (no clients)",
        _staff_and_new_provider,
        _provider_call("POST", "/deactivate", {}),
    ),
    Call(
        "archive",
        _staff_and_client,
        lambda org, p: org.api.call(
            "POST", f"/v1/orgs/{org.org_id}/clients/{p['client_id']}/archive", None, p["token"]
        ),
    ),
)


def measure(size: int, reps: int, counter: DynamoCounter) -> dict[str, dict[str, Any]]:
    """Each call `reps` times in a fresh organization of `size` clients; the most it took."""
    undo_by_item()  # as in the tests and the local stack: moto's rollback copies cost no time
    plain_dynamodb_answers()  # moto's time only: the counts and the worker's own CPU are the same
    with mock_aws():
        aws.reset()
        infra.create_all()
        with Client(app, stage_name="local") as client:
            org = set_up(Api(client), size)
            figures: dict[str, dict[str, Any]] = {}
            for call in CALLS:
                runs = []
                for _ in range(reps):
                    prepared = call.prepare(org)
                    with counter.counting() as counted:
                        call.run(org, prepared)
                    runs.append(counted)
                worst = max(
                    runs, key=lambda c: (c.sequential_round_trips, c.round_trips, c.items_read)
                )
                figures[call.name] = {
                    "sequential_round_trips": worst.sequential_round_trips,
                    "round_trips": worst.round_trips,
                    "items_read": worst.items_read,
                    "operations": worst.operations,
                    "same_every_time": len({(c.round_trips, c.items_read) for c in runs}) == 1,
                }
    return figures


# Cold import ------------------------------------------------------------------------------------

MEASURE_IMPORT = (
    "import time; start = time.perf_counter(); {body}; print(time.perf_counter() - start)"
)
APP_IMPORT = "import app"
# A Chalice app with nothing of Portico: the libraries its code imports, as a bare app would.
BARE_IMPORT = (
    "from chalice import Chalice; import boto3, pynamodb.models, pynamodb.transactions, "
    "pydantic, email_validator, jinja2, css_inline, argon2, "
    "aws_lambda_powertools.logging.formatter, aws_lambda_powertools.metrics; "
    "Chalice(app_name='bare')"
)
# Issue #17's goal is against this one: Chalice with boto3, PynamoDB and Jinja2 only.
PLAIN_IMPORT = (
    "from chalice import Chalice; import boto3, pynamodb.models, pynamodb.transactions, jinja2; "
    "Chalice(app_name='bare')"
)


def import_seconds(body: str, bytecode: str | None = None) -> float:
    """One fresh interpreter's import time. With `bytecode` (a cache folder), modules load from
    compiled code as the packaged zip ships them (scripts/package.py); without, Portico's own
    modules are compiled from source, as Lambda does for a plain `chalice deploy`."""
    env = dict(os.environ)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = bytecode
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return float(interpreters.last_line(["-c", MEASURE_IMPORT.format(body=body)], env))


def cold_imports(repetitions: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"repetitions": repetitions}
    with tempfile.TemporaryDirectory() as cache:
        for body in (APP_IMPORT, BARE_IMPORT, PLAIN_IMPORT):
            import_seconds(body, cache)  # compiles everything once into the cache
        for label, bytecode in (("bytecode", cache), ("source", None)):
            app_runs, bare_runs, plain_runs = [], [], []
            for _ in range(repetitions):  # interleaved, so a busy moment hits all alike
                app_runs.append(import_seconds(APP_IMPORT, bytecode))
                bare_runs.append(import_seconds(BARE_IMPORT, bytecode))
                plain_runs.append(import_seconds(PLAIN_IMPORT, bytecode))
            app_ms = 1000 * statistics.median(app_runs)
            bare_ms = 1000 * statistics.median(bare_runs)
            plain_ms = 1000 * statistics.median(plain_runs)
            figures[label] = {
                "app_ms_median": round(app_ms, 1),
                "bare_ms_median": round(bare_ms, 1),
                "ratio_app_to_bare": round(app_ms / bare_ms, 3),
                "plain_ms_median": round(plain_ms, 1),
                "ratio_app_to_plain": round(app_ms / plain_ms, 3),
            }
    return figures


# The run ---------------------------------------------------------------------------------------


def grown(by_size: dict[int, dict[str, dict[str, Any]]]) -> list[str]:
    sizes = sorted(by_size)
    problems = []
    for name in by_size[sizes[0]]:
        for small, large in itertools.pairwise(sizes):
            a, b = by_size[small][name], by_size[large][name]
            for key in ("sequential_round_trips", "round_trips", "items_read"):
                if b[key] > a[key]:
                    problems.append(
                        f"{name}: {key} {a[key]} at {small} clients, {b[key]} at {large}"
                    )
    return problems


def table(figures: dict[str, Any]) -> str:
    sizes = figures["sizes"]
    by_size = figures["calls"]
    head = (
        ["call"]
        + [f"sequential @{s}" for s in sizes]
        + [f"round trips @{s}" for s in sizes]
        + [f"items read @{s}" for s in sizes]
    )
    rows = [head]
    for name in by_size[str(sizes[0])]:
        rows.append(
            [name]
            + [str(by_size[str(s)][name]["sequential_round_trips"]) for s in sizes]
            + [str(by_size[str(s)][name]["round_trips"]) for s in sizes]
            + [str(by_size[str(s)][name]["items_read"]) for s in sizes]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    imports = figures.get("cold_import")
    if imports:
        lines.append("")
        for label, how in (
            ("bytecode", "as `make package` ships it, compiled"),
            ("source", "compiling Portico's source, as a plain `chalice deploy`"),
        ):
            one = imports[label]
            lines.append(
                f"cold import {how} (median of {imports['repetitions']}): app"
                f" {one['app_ms_median']} ms, bare Chalice + same libraries"
                f" {one['bare_ms_median']} ms, ratio app/bare {one['ratio_app_to_bare']};"
                f" plain Chalice + boto3, PynamoDB, Jinja2 {one['plain_ms_median']} ms,"
                f" ratio app/plain {one['ratio_app_to_plain']}"
            )
    first = figures.get("cold_start_to_first_answer")
    if first:
        lines.append(
            f"cold start to first GET /v1/me answer (median of {first['runs']}): app"
            f" {first['app_ms']} ms, bare Chalice + boto3 making the same reads"
            f" {first['bare_ms']} ms, ratio {first['ratio']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--reps", type=int, default=3, help="runs of each call per size")
    parser.add_argument("--imports", type=int, default=7, help="cold imports of each (0: none)")
    parser.add_argument("--json", type=Path, default=ROOT / "artifacts" / "bench.json")
    args = parser.parse_args(argv)
    counter = DynamoCounter()
    by_size: dict[int, dict[str, dict[str, Any]]] = {}
    try:
        for size in sorted(args.sizes):
            by_size[size] = measure(size, args.reps, counter)
    except BenchFailed as exc:
        print(f"bench FAILED: {exc}", file=sys.stderr)
        return 1
    figures: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cores": os.cpu_count()},
        "sizes": sorted(args.sizes),
        "calls": {str(size): calls for size, calls in by_size.items()},
        "grown": grown(by_size),
    }
    if args.imports:
        figures["cold_import"] = cold_imports(args.imports)
        # Issue #17's second figure: a fresh process's import and first `GET /v1/me` answer.
        figures["cold_start_to_first_answer"] = bench_cold.first_answers(args.imports)
    print(table(figures))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {args.json}")
    if figures["grown"]:
        print("bench FAILED: calls grew with the organization:", file=sys.stderr)
        for problem in figures["grown"]:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
