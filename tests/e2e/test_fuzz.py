"""Fuzzing the whole contract (API.md): schemathesis generates requests from openapi.yaml, valid
and invalid, for every operation, and sends them to the real local stack over HTTP.

Checks on every answer: never a 5xx ("never 500 for bad input"), the status code is one the
document lists for the operation, the content type and the body match the document's schema,
and a request the document says is invalid is refused with a 4xx.

It runs on the session's stack with a practice of its own, after every other end-to-end test
but the one that stops the stack (tests/e2e/conftest.py orders them): fuzzed sign-ins fill the
per-address throttle (R45), which must not reach the tests that sign in. The last test here
fails unless every operation of the document was sent at least one request.

Requests carry a live session: staff of a practice that has a client,
a group and appointments, or a client signed in to their own account. Path parameters name
those real records, so requests reach the handlers' code rather than stopping at 404; add the
parameters of new routes to `real_path_values`. Operations that end the session they are sent
with (sign-out, switch) get a throwaway session of their own.

Budget: `FUZZ_EXAMPLES` generated requests per operation (3 in `make test`; `make fuzz`
sets 200 and adds the coverage phase, `FUZZ_COVERAGE=1`). Hypothesis keeps no example
database (`database=None`): runs are repeatable from their seed, and nothing is written to the
work tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from tests.support.api import PASSWORD, SIGV4_AUTHORIZATION
from tests.support.contract import DOCUMENT, HTTP_METHODS
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
# Schemathesis' coverage phase (every boundary value of every parameter, and methods a path does
# not take) runs in `make fuzz` only: it alone took two of the e2e half's four and a half minutes.
# `make test` keeps the generated examples, valid and invalid, and test_contract.py checks every
# undocumented method answers 405 in process.
COVERAGE = os.environ.get("FUZZ_COVERAGE", "") == "1"
# Methods the app does not route answer 405 (API.md shape); TRACE and QUERY never reach it under
# `chalice local`, whose HTTP server answers them 501 itself (API Gateway refuses them on AWS).
CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {
            "coverage": {
                "enabled": COVERAGE,
                "unexpected-methods": ["get", "put", "post", "delete", "patch", "options"],
            }
        }
    }
)
# The CSV import's body is the file's bytes (openapi.yaml: `format: binary`): schemathesis
# sends them as they are, as it does an octet stream (its text serializer sends them empty).
schemathesis.serializer.alias("text/csv", "application/octet-stream")
SCHEMA = schemathesis.openapi.from_path(ROOT / "openapi.yaml", config=CONFIG)
# Operations that end the session they are sent with: each gets a session of its own.
ENDS_ITS_SESSION = {("POST", "/v1/auth/logout"), ("POST", "/v1/auth/switch")}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]


@dataclass
class World:
    """The stack and the real records fuzzed requests point at; which operations were sent."""

    stack: Stack
    staff_token: str
    client_token: str
    path_values: dict[str, str]
    signups: int = 0
    sent: int = 0
    covered: set[tuple[str, str]] = field(default_factory=set)

    def throwaway_session(self) -> str:
        """A new practice's admin session (sign-up is not throttled per address, R45)."""
        self.signups += 1
        answer = self.stack.call(
            "POST",
            "/v1/orgs",
            {
                "name": "Throwaway",
                "slug": f"throwaway-{self.signups}",
                "admin": {
                    "email": f"admin{self.signups}@throwaway.example",
                    "password": PASSWORD,
                    "first_name": "T",
                    "last_name": "A",
                },
            },
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]


def _ok(answer: requests.Response, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else {}


def real_path_values(stack: Stack, token: str, org_id: str) -> dict[str, str]:
    """A client with a contact and a link, a group and its join code, an appointment's client,
    an email kind and the slug of one practice: real records, so requests reach the rules."""
    org = f"/v1/orgs/{org_id}"
    client = _ok(
        stack.call(
            "POST",
            f"{org}/clients",
            {"first_name": "Ana", "last_name": "Fuzz", "email": "ana@fuzz.example"},
            token,
        ),
        201,
    )["client"]
    group = _ok(stack.call("POST", f"{org}/groups", {"name": "Fuzzers"}, token), 201)["group"]
    provider = _ok(stack.call("GET", f"{org}/providers", None, token))["providers"][0]
    _ok(
        stack.call(
            "POST",
            f"{org}/appointments",
            {
                "provider_id": provider["id"],
                "client_ids": [client["id"]],
                "starts_at": "2099-03-01T10:00:00Z",
                "minutes": 50,
                "type": "Check-up",
            },
            token,
        ),
        201,
    )
    kind = _ok(stack.call("GET", f"{org}/email-previews", None, token))["kinds"][0]
    client_path = f"{org}/clients/{client['id']}"
    contact = _ok(
        stack.call(
            "POST",
            f"{client_path}/contacts",
            {"first_name": "Cal", "last_name": "Fuzz", "relationship": "parent"},
            token,
        ),
        201,
    )["contact"]
    link = _ok(
        stack.call(
            "POST",
            f"{client_path}/links",
            {"new_client": {"first_name": "Lin", "last_name": "Fuzz"}, "relationship": "spouse"},
            token,
        ),
        201,
    )["link"]
    slug = _ok(stack.call("GET", org, None, token))["org"]["slug"]
    return {
        "org_id": org_id,
        "client_id": client["id"],
        "group_id": group["id"],
        "kind": kind,
        "contact_id": contact["id"],
        "link_id": link["id"],
        "code": group["invite_url"].rsplit("/", 1)[-1],
        "slug": slug,
    }


def client_session(stack: Stack, token: str, org_id: str) -> str:
    """A client of the practice (not the one in the paths, whom fuzzing may archive or move)
    signed in to their own account."""
    org = f"/v1/orgs/{org_id}"
    client = _ok(
        stack.call(
            "POST",
            f"{org}/clients",
            {"first_name": "Cy", "last_name": "Client", "email": "cy@fuzz.example"},
            token,
        ),
        201,
    )["client"]
    _ok(stack.call("POST", f"{org}/clients/{client['id']}/password", {"password": PASSWORD}, token))
    login = stack.call("POST", "/v1/auth/login", {"email": "cy@fuzz.example", "password": PASSWORD})
    return _ok(login)["token"]


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    signed_up = _ok(
        stack.call(
            "POST",
            "/v1/orgs",
            {
                "name": "Fuzz Practice",
                "slug": "fuzz-practice",
                "admin": {
                    "email": "admin@fuzz.example",
                    "password": PASSWORD,
                    "first_name": "Ada",
                    "last_name": "Admin",
                },
            },
        ),
        201,
    )
    token, org_id = signed_up["token"], signed_up["org"]["id"]
    return World(
        stack,
        token,
        client_session(stack, token, org_id),
        real_path_values(stack, token, org_id),
    )


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented_whatever_it_is_sent(
    case: schemathesis.Case, world: World
) -> None:
    # API.md conventions: never a 500 for bad input; every answer as openapi.yaml documents it
    negative = {
        location
        for location, info in (case.meta.components.items() if case.meta else [])
        if info.mode == GenerationMode.NEGATIVE
    }
    if ParameterLocation.PATH not in negative:  # an invalid path parameter is left as generated
        for name in case.path_parameters or {}:
            if name in world.path_values:
                case.path_parameters[name] = world.path_values[name]
    headers = {}
    if ParameterLocation.HEADER not in negative:  # e.g. a request meant to lack its Authorization
        if (case.method.upper(), case.path) in ENDS_ITS_SESSION:
            token = world.throwaway_session()
        else:
            world.sent += 1  # every third request as the client, the others as staff
            token = world.client_token if world.sent % 3 == 0 else world.staff_token
        headers["Authorization"] = f"Bearer {token}"
        if case.path.startswith("/v1/services/"):  # the platform's services sign with IAM (R54)
            headers["Authorization"] = SIGV4_AUTHORIZATION
    world.covered.add((case.method.upper(), case.path))
    try:
        case.call_and_validate(base_url=world.stack.base_url, headers=headers, checks=CHECKS)
    finally:
        if case.path == "/_local/faults":  # a fuzzed fault switch must not fail what follows
            world.stack.call("POST", "/_local/faults", {})


def test_the_fuzz_run_sent_every_operation_of_the_document(world: World) -> None:
    # API.md: the fuzzing above covers the whole contract. Under pytest-xdist schemathesis folds
    # its operations into one item and still passes, so a run that sent fewer fails here.
    documented = {
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert len(documented) >= 60, "openapi.yaml was not read"
    missing = sorted(documented - world.covered)
    assert not missing, (
        f"{len(missing)} of {len(documented)} operations were never fuzzed: {missing}"
    )
